"""run notes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 18:20:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('run_note',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('author_id', sa.Integer(), nullable=False),
    sa.Column('text', sqlmodel.sql.sqltypes.AutoString(length=2000), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['author_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['run_id'], ['tuning_run.id'], ),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('run_note', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_run_note_run_id'), ['run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run_note', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_run_note_run_id'))
    op.drop_table('run_note')
