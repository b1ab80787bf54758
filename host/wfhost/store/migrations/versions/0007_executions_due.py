"""executions: an index for the scheduler's next execution deadline

Revision ID: due
Revises: perf
"""

from alembic import op

revision = 'due'
down_revision = 'perf'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index('ix_executions_due', 'executions', ['status', 'cancel_requested', 'deadline'])


def downgrade() -> None:
    op.drop_index('ix_executions_due', table_name='executions')
