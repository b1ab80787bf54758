"""task_runs.deps_left: dependencies not yet finished (readiness in O(1) per finished task)

Revision ID: perf
Revises: walls
"""

import sqlalchemy as sa
from alembic import op

revision = 'perf'
down_revision = 'walls'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deps_left', sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('task_runs', schema=None) as batch_op:
        batch_op.drop_column('deps_left')
