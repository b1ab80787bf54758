"""service: API tokens and tenant quotas

Revision ID: service
Revises: pkgstore
"""

from alembic import op
import sqlalchemy as sa
import sqlmodel


revision = 'service'
down_revision = 'pkgstore'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_tokens',
    sa.Column('id', sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
    sa.Column('tenant', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=True),
    sa.Column('admin', sa.Boolean(), nullable=False),
    sa.Column('label', sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True),
    sa.Column('digest', sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('revoked_at', sa.Float(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index('ix_api_tokens_tenant', ['tenant'], unique=False)

    op.create_table('tenant_quotas',
    sa.Column('tenant', sqlmodel.sql.sqltypes.AutoString(length=63), nullable=False),
    sa.Column('concurrent_tasks', sa.Integer(), nullable=True),
    sa.Column('starts_per_minute', sa.Integer(), nullable=True),
    sa.Column('waiting_executions', sa.Integer(), nullable=True),
    sa.Column('package_bytes', sa.Integer(), nullable=True),
    sa.Column('signal_bytes', sa.Integer(), nullable=True),
    sa.Column('uploads_per_hour', sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint('tenant')
    )


def downgrade() -> None:
    op.drop_table('tenant_quotas')
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index('ix_api_tokens_tenant')
    op.drop_table('api_tokens')
