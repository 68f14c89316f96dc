"""successive halving, Bayesian proposals, early stopping

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 20:45:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('halving', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('rung', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('stop_after_no_improvement', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('time_budget_s', sa.Float(), nullable=True))
        batch_op.add_column(
            sa.Column('stop_reason', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
    with op.batch_alter_table('trial', schema=None) as batch_op:
        batch_op.add_column(sa.Column('rung', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('n_resources', sa.Integer(), nullable=True))
    op.create_table('proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('index', sa.Integer(), nullable=False),
    sa.Column('chunk', sa.Integer(), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['tuning_run.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('run_id', 'index', name='uq_proposal_run_index')
    )


def downgrade() -> None:
    op.drop_table('proposal')
    with op.batch_alter_table('trial', schema=None) as batch_op:
        batch_op.drop_column('n_resources')
        batch_op.drop_column('rung')
    with op.batch_alter_table('tuning_run', schema=None) as batch_op:
        batch_op.drop_column('stop_reason')
        batch_op.drop_column('time_budget_s')
        batch_op.drop_column('stop_after_no_improvement')
        batch_op.drop_column('rung')
        batch_op.drop_column('halving')
