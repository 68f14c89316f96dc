"""stored files in tables of their own: an upload's CSV in dataset_file, a model's in model_file

On SQLite a large value kept in the row that lists read was walked (its overflow pages) by
every list reading a column stored after it. The bytes are copied in SQL, never through this
process's Python objects. SQLite keeps the freed pages for later rows; `VACUUM` returns them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 12:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('dataset_file',
    sa.Column('dataset_id', sa.Uuid(), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['dataset_id'], ['dataset.id'], ),
    sa.PrimaryKeyConstraint('dataset_id')
    )
    op.create_table('model_file',
    sa.Column('model_id', sa.Uuid(), nullable=False),
    sa.Column('file', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['model_id'], ['trained_model.id'], ),
    sa.PrimaryKeyConstraint('model_id')
    )
    op.execute(
        'INSERT INTO dataset_file (dataset_id, content) '
        'SELECT id, content FROM dataset WHERE content IS NOT NULL'
    )
    op.execute('INSERT INTO model_file (model_id, file) SELECT id, file FROM trained_model')
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.drop_column('content')
    with op.batch_alter_table('trained_model', schema=None) as batch_op:
        batch_op.drop_column('file')


def downgrade() -> None:
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('content', sa.LargeBinary(), nullable=True))
    with op.batch_alter_table('trained_model', schema=None) as batch_op:
        batch_op.add_column(sa.Column('file', sa.LargeBinary(), nullable=True))
    op.execute(
        'UPDATE dataset SET content = '
        '(SELECT content FROM dataset_file WHERE dataset_file.dataset_id = dataset.id)'
    )
    op.execute(
        'UPDATE trained_model SET file = '
        '(SELECT file FROM model_file WHERE model_file.model_id = trained_model.id)'
    )
    # Every model has its file (a model without one would fail here, as it could not be served).
    with op.batch_alter_table('trained_model', schema=None) as batch_op:
        batch_op.alter_column('file', existing_type=sa.LargeBinary(), nullable=False)
    op.drop_table('model_file')
    op.drop_table('dataset_file')
