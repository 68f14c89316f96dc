"""fair turns: a run's priority, and chunks found by state

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 11:40:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('priority', sa.Integer(), server_default='0', nullable=False))
    op.create_index('ix_work_chunk_state', 'work_chunk', ['state'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_work_chunk_state', table_name='work_chunk')
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.drop_column('priority')
