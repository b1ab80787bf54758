"""cron schedules and what each tick did

Revision ID: cron
Revises: 0001
"""

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision = 'cron'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('schedules',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('tenant', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('name', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('workflow', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('cron', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
    sa.Column('timezone', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('input', sa.Text(), nullable=False),
    sa.Column('catchup', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('overlap', sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
    sa.Column('paused', sa.Boolean(), nullable=False),
    sa.Column('next_tick_at', sa.Float(), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('tenant', 'name', name='uq_schedule_tenant_name')
    )
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.create_index('ix_schedules_due', ['paused', 'next_tick_at'], unique=False)

    op.create_table('schedule_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('schedule_id', sa.Integer(), nullable=False),
    sa.Column('tick_at', sa.Float(), nullable=False),
    sa.Column('fired_at', sa.Float(), nullable=False),
    sa.Column('execution_id', sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
    sa.Column('outcome', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('schedule_id', 'tick_at', name='uq_schedule_run_tick')
    )
    with op.batch_alter_table('schedule_runs', schema=None) as batch_op:
        batch_op.create_index('ix_schedule_runs_recent', ['schedule_id', 'id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('schedule_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_schedule_runs_recent')
    op.drop_table('schedule_runs')
    with op.batch_alter_table('schedules', schema=None) as batch_op:
        batch_op.drop_index('ix_schedules_due')
    op.drop_table('schedules')
