"""a run refined from another links to it

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 20:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_id', sa.Uuid(), nullable=True))
        batch_op.create_index(batch_op.f('ix_tuning_run_parent_id'), ['parent_id'], unique=False)
        batch_op.create_foreign_key(
            'fk_tuning_run_parent_id', 'tuning_run', ['parent_id'], ['id']
        )


def downgrade() -> None:
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.drop_constraint('fk_tuning_run_parent_id', type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_tuning_run_parent_id'))
        batch_op.drop_column('parent_id')
