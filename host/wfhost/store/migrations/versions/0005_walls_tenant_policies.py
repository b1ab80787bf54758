"""tenant policies: the walls one tenant's workers get

Revision ID: walls
Revises: service
"""

from alembic import op
import sqlalchemy as sa
import wfregistry.models


revision = 'walls'
down_revision = 'service'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tenant_policies',
    sa.Column('tenant', sa.String(length=63), nullable=False),
    sa.Column('allow_connect', sa.Text(), nullable=False),
    sa.Column('env', sa.Text(), nullable=False),
    sa.Column('memory', sa.BigInteger(), nullable=True),
    sa.Column('cpu_seconds', sa.BigInteger(), nullable=True),
    sa.Column('max_procs', sa.BigInteger(), nullable=True),
    sa.Column('open_files', sa.BigInteger(), nullable=True),
    sa.Column('file_size', sa.BigInteger(), nullable=True),
    sa.Column('updated_at', wfregistry.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['tenant'], ['tenants.name'], ),
    sa.PrimaryKeyConstraint('tenant')
    )


def downgrade() -> None:
    op.drop_table('tenant_policies')
