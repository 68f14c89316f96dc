"""dataset size: an upload's bytes, for the per-user quota without reading any file

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 11:50:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.add_column(sa.Column('size_bytes', sa.Integer(), server_default='0', nullable=False))
    # length() of a blob reads its size, not the blob (SQLite's record header, PostgreSQL's
    # TOAST pointer): once, here.
    op.execute('UPDATE dataset SET size_bytes = length(content) WHERE content IS NOT NULL')


def downgrade() -> None:
    with op.batch_alter_table('dataset', schema=None) as batch_op:
        batch_op.drop_column('size_bytes')
