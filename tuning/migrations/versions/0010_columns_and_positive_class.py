"""a dataset's profile, a run's column roles and positive class

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 06:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('profile', sa.JSON(), nullable=True))
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('column_roles', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('pos_label', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.drop_column('pos_label')
        batch_op.drop_column('column_roles')
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.drop_column('profile')
