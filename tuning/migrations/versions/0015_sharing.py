"""sharing runs and uploads with other users, or with everyone signed in

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-12 10:00:00
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel.sql.sqltypes


revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

EVERYONE = sa.text('user_id IS NULL')


def _share_table(name: str, key: str, target: str) -> None:
    op.create_table(name,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column(key, sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('level', sqlmodel.sql.sqltypes.AutoString(length=10), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint([key], [f'{target}.id'], ),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], ),
    sa.ForeignKeyConstraint(['created_by'], ['user.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint(key, 'user_id', name=f'uq_{name}_{key.removesuffix("_id")}_user'),
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(
            f'ix_{name}_user_{key.removesuffix("_id")}', ['user_id', key], unique=False
        )
        batch_op.create_index(
            f'uq_{name}_everyone', [key], unique=True,
            sqlite_where=EVERYONE, postgresql_where=EVERYONE,
        )


def upgrade() -> None:
    _share_table('run_share', 'run_id', 'tuning_run')
    _share_table('dataset_share', 'dataset_id', 'dataset')


def downgrade() -> None:
    for name, key in (('dataset_share', 'dataset'), ('run_share', 'run')):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(f'uq_{name}_everyone')
            batch_op.drop_index(f'ix_{name}_user_{key}')
        op.drop_table(name)
