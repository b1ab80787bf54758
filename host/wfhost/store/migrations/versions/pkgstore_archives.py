"""package archives in the store: one package store for every host

Revision ID: pkgstore
Revises: cron
"""

import sqlalchemy as sa
from alembic import op

import wfregistry.models

revision = 'pkgstore'
down_revision = 'cron'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('package_archives',
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('stored_at', wfregistry.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('sha256')
    )


def downgrade() -> None:
    op.drop_table('package_archives')
