"""a run's test set, name, tags and archive; a training's trial and evaluation; a model's
threshold and archive (issue 16)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 09:00:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('test_size', sa.Float(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('held_out', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('name', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('tags', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('training_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trial_index', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('evaluation', sa.JSON(), nullable=True))
    with op.batch_alter_table('trained_model', schema=None) as batch_op:
        batch_op.add_column(sa.Column('threshold', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('trained_model', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
        batch_op.drop_column('threshold')
    with op.batch_alter_table('training_run', schema=None) as batch_op:
        batch_op.drop_column('evaluation')
        batch_op.drop_column('trial_index')
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.drop_column('archived_at')
        batch_op.drop_column('tags')
        batch_op.drop_column('name')
        batch_op.drop_column('held_out')
        batch_op.drop_column('test_size')
