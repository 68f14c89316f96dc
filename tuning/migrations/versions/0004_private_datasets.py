"""private datasets: names unique per owner, class counts for checks at submit

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 17:30:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows stay as they are: uploads keep their owners, bundled ones have none.
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('classes', sa.JSON(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_dataset_name'))
        batch_op.create_index(batch_op.f('ix_dataset_name'), ['name'], unique=False)
        batch_op.create_unique_constraint('uq_dataset_owner_name', ['owner_id', 'name'])


def downgrade() -> None:
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.drop_constraint('uq_dataset_owner_name', type_='unique')
        batch_op.drop_index(batch_op.f('ix_dataset_name'))
        batch_op.create_index(batch_op.f('ix_dataset_name'), ['name'], unique=True)
        batch_op.drop_column('classes')
