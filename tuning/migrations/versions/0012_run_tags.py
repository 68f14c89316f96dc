"""run tags, one row each, for filtering runs by tag

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('run_tag',
    sa.Column('run_id', sa.Uuid(), nullable=False),
    sa.Column('tag', sqlmodel.sql.sqltypes.AutoString(length=50), nullable=False),
    sa.ForeignKeyConstraint(['run_id'], ['tuning_run.id'], ),
    sa.PrimaryKeyConstraint('run_id', 'tag')
    )
    with op.batch_alter_table('run_tag', schema=None) as batch_op:
        batch_op.create_index('ix_run_tag_tag_run', ['tag', 'run_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('run_tag', schema=None) as batch_op:
        batch_op.drop_index('ix_run_tag_tag_run')
    op.drop_table('run_tag')
