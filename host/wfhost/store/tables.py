"""The store's tables as SQLAlchemy Core: GENERATED from the SQLModel models, do not edit.

`wfhost.store._tablegen` renders this from the models (`wfhost.store.models`,
`wfregistry.models`, `wfhost.store.access`), which stay the one definition of
the schema; here the same tables need neither SQLModel nor pydantic. After
changing a model: ``.venv/bin/python -m wfhost.store._tablegen``
(tests/host/test_tables.py fails until then).
"""

# ruff: noqa: E501
from __future__ import annotations

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    event,
)

from wfregistry._sqltypes import UTCDateTime

__all__ = [
    'metadata',
    'api_tokens',
    'events',
    'executions',
    'hosts',
    'journal',
    'package_archives',
    'package_versions',
    'schedule_runs',
    'schedules',
    'signals',
    'task_runs',
    'tenant_policies',
    'tenant_quotas',
    'tenants',
    'trusted_keys',
    'waits',
]

metadata = MetaData(naming_convention={'ix': 'ix_%(column_0_label)s'})

api_tokens = Table(
    'api_tokens',
    metadata,
    Column('id', String(length=16), primary_key=True, nullable=False),
    Column('tenant', String(length=63), nullable=True),
    Column('admin', Boolean(), nullable=False, default=False),
    Column('label', String(length=200), nullable=True),
    Column('digest', String(length=64), nullable=False),
    Column('created_at', Float(), nullable=False),
    Column('revoked_at', Float(), nullable=True),
    Index('ix_api_tokens_tenant', 'tenant'),
)

events = Table(
    'events',
    metadata,
    Column('id', Integer(), primary_key=True, nullable=False),
    Column('execution_uid', String(length=32), nullable=False),
    Column('at', Float(), nullable=False),
    Column('kind', String(length=32), nullable=False),
    Column('task_id', String(length=64), nullable=True),
    Column('detail', Text(), nullable=True),
    Index('ix_events_exec', 'execution_uid', 'id'),
)

executions = Table(
    'executions',
    metadata,
    Column('uid', String(length=32), primary_key=True, nullable=False),
    Column('tenant', String(length=64), nullable=False),
    Column('id', String(length=128), nullable=False),
    Column('package', String(length=64), nullable=False),
    Column('workflow', String(length=64), nullable=False),
    Column('package_version_id', Integer(), nullable=True),
    Column('version', String(length=64), nullable=True),
    Column('input', Text(), nullable=False),
    Column('output', Text(), nullable=True),
    Column('error', Text(), nullable=True),
    Column('status', String(length=16), nullable=False, default='pending'),
    Column('run_no', Integer(), nullable=False, default=1),
    Column('parent_uid', String(length=32), nullable=True),
    Column('parent_task', String(length=64), nullable=True),
    Column('retries_left', Integer(), nullable=False, default=0),
    Column('timeout', Float(), nullable=True),
    Column('deadline', Float(), nullable=True),
    Column('cancel_requested', Boolean(), nullable=False, default=False),
    Column('cancelled_by', String(length=256), nullable=True),
    Column('created_at', Float(), nullable=False),
    Column('started_at', Float(), nullable=True),
    Column('finished_at', Float(), nullable=True),
    UniqueConstraint('tenant', 'id', name='uq_execution_tenant_id'),
    Index('ix_executions_due', 'status', 'cancel_requested', 'deadline'),
    Index('ix_executions_parent', 'parent_uid'),
    Index('ix_executions_status', 'status'),
)

hosts = Table(
    'hosts',
    metadata,
    Column('id', String(length=64), primary_key=True, nullable=False),
    Column('hostname', String(length=255), nullable=False),
    Column('pid', Integer(), nullable=False),
    Column('started_at', Float(), nullable=False),
    Column('heartbeat_at', Float(), nullable=False),
    Column('wake_port', Integer(), nullable=True),
    Column('stopped', Boolean(), nullable=False, default=False),
)

journal = Table(
    'journal',
    metadata,
    Column('execution_uid', String(length=32), primary_key=True, nullable=False),
    Column('task_id', String(length=64), primary_key=True, nullable=False),
    Column('seq', Integer(), primary_key=True, nullable=False),
    Column('kind', String(length=32), nullable=False),
    Column('name', Text(), nullable=False),
    Column('result', Text(), nullable=False),
    Column('at', Float(), nullable=False),
)

package_archives = Table(
    'package_archives',
    metadata,
    Column('sha256', String(length=64), primary_key=True, nullable=False),
    Column('data', LargeBinary(), nullable=False),
    Column('size', Integer(), nullable=False),
    Column('stored_at', UTCDateTime(timezone=True), nullable=False),
)

package_versions = Table(
    'package_versions',
    metadata,
    Column('id', Integer(), primary_key=True, nullable=False),
    Column('tenant', String(length=63), nullable=False),
    Column('name', String(length=63), nullable=False),
    Column('version', String(length=100), nullable=False),
    Column('archive_sha256', String(length=64), nullable=False),
    Column('key_id', String(length=64), nullable=False),
    Column('manifest', Text(), nullable=False),
    Column('install_dir', Text(), nullable=False),
    Column('state', String(length=16), nullable=False),
    Column('registered_at', UTCDateTime(timezone=True), nullable=False),
    Column('retired_at', UTCDateTime(timezone=True), nullable=True),
    UniqueConstraint('tenant', 'name', 'version', name='uq_package_versions_tenant_name_version'),
    ForeignKeyConstraint(['tenant'], ['tenants.name']),
    Index('ix_package_versions_tenant', 'tenant'),
)
event.listen(package_versions, "after_create",
             DDL("CREATE UNIQUE INDEX uq_package_versions_one_active ON package_versions (tenant, name) WHERE state = 'active'"))  # type: ignore[no-untyped-call]

schedule_runs = Table(
    'schedule_runs',
    metadata,
    Column('id', Integer(), primary_key=True, nullable=False),
    Column('schedule_id', Integer(), nullable=False),
    Column('tick_at', Float(), nullable=False),
    Column('fired_at', Float(), nullable=False),
    Column('execution_id', String(length=128), nullable=True),
    Column('outcome', String(length=16), nullable=False),
    Column('detail', Text(), nullable=True),
    UniqueConstraint('schedule_id', 'tick_at', name='uq_schedule_run_tick'),
    Index('ix_schedule_runs_recent', 'schedule_id', 'id'),
)

schedules = Table(
    'schedules',
    metadata,
    Column('id', Integer(), primary_key=True, nullable=False),
    Column('tenant', String(length=64), nullable=False),
    Column('name', String(length=64), nullable=False),
    Column('workflow', String(length=200), nullable=False),
    Column('cron', String(length=200), nullable=False),
    Column('timezone', String(length=64), nullable=False),
    Column('input', Text(), nullable=False),
    Column('catchup', String(length=8), nullable=False),
    Column('overlap', String(length=8), nullable=False),
    Column('paused', Boolean(), nullable=False, default=False),
    Column('next_tick_at', Float(), nullable=False),
    Column('created_at', Float(), nullable=False),
    UniqueConstraint('tenant', 'name', name='uq_schedule_tenant_name'),
    Index('ix_schedules_due', 'paused', 'next_tick_at'),
)

signals = Table(
    'signals',
    metadata,
    Column('id', Integer(), primary_key=True, nullable=False),
    Column('execution_uid', String(length=32), nullable=False),
    Column('name', String(length=128), nullable=False),
    Column('payload', Text(), nullable=False),
    Column('sender', String(length=256), nullable=True),
    Column('sent_at', Float(), nullable=False),
    Column('consumed', Boolean(), nullable=False, default=False),
    Column('consumed_by', String(length=128), nullable=True),
    Index('ix_signals_pending', 'execution_uid', 'name', 'consumed'),
)

task_runs = Table(
    'task_runs',
    metadata,
    Column('execution_uid', String(length=32), primary_key=True, nullable=False),
    Column('task_id', String(length=64), primary_key=True, nullable=False),
    Column('position', Integer(), nullable=False, default=0),
    Column('state', String(length=16), nullable=False, default='pending'),
    Column('attempt', Integer(), nullable=False, default=0),
    Column('not_before', Float(), nullable=False, default=0.0),
    Column('deps_left', Integer(), nullable=True),
    Column('lease_owner', String(length=64), nullable=True),
    Column('deadline', Float(), nullable=True),
    Column('output', Text(), nullable=True),
    Column('error', Text(), nullable=True),
    Column('detail', Text(), nullable=True),
    Column('waiting_for', Text(), nullable=True),
    Column('started_at', Float(), nullable=True),
    Column('finished_at', Float(), nullable=True),
    Index('ix_task_runs_exec_state', 'execution_uid', 'state'),
    Index('ix_task_runs_state', 'state', 'not_before'),
)

tenant_policies = Table(
    'tenant_policies',
    metadata,
    Column('tenant', String(length=63), primary_key=True, nullable=False),
    Column('allow_connect', Text(), nullable=False),
    Column('env', Text(), nullable=False),
    Column('memory', BigInteger(), nullable=True),
    Column('cpu_seconds', BigInteger(), nullable=True),
    Column('max_procs', BigInteger(), nullable=True),
    Column('open_files', BigInteger(), nullable=True),
    Column('file_size', BigInteger(), nullable=True),
    Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    ForeignKeyConstraint(['tenant'], ['tenants.name']),
)

tenant_quotas = Table(
    'tenant_quotas',
    metadata,
    Column('tenant', String(length=63), primary_key=True, nullable=False),
    Column('concurrent_tasks', Integer(), nullable=True),
    Column('starts_per_minute', Integer(), nullable=True),
    Column('waiting_executions', Integer(), nullable=True),
    Column('package_bytes', Integer(), nullable=True),
    Column('signal_bytes', Integer(), nullable=True),
    Column('uploads_per_hour', Integer(), nullable=True),
)

tenants = Table(
    'tenants',
    metadata,
    Column('name', String(length=63), primary_key=True, nullable=False),
    Column('created_at', UTCDateTime(timezone=True), nullable=False),
)

trusted_keys = Table(
    'trusted_keys',
    metadata,
    Column('id', Integer(), primary_key=True, nullable=False),
    Column('tenant', String(length=63), nullable=False),
    Column('key_id', String(length=64), nullable=False),
    Column('public_key', Text(), nullable=False),
    Column('label', String(length=200), nullable=True),
    Column('added_at', UTCDateTime(timezone=True), nullable=False),
    Column('revoked_at', UTCDateTime(timezone=True), nullable=True),
    UniqueConstraint('tenant', 'key_id', name='uq_trusted_keys_tenant_key'),
    ForeignKeyConstraint(['tenant'], ['tenants.name']),
    Index('ix_trusted_keys_tenant', 'tenant'),
)

waits = Table(
    'waits',
    metadata,
    Column('execution_uid', String(length=32), primary_key=True, nullable=False),
    Column('task_id', String(length=64), primary_key=True, nullable=False),
    Column('seq', Integer(), primary_key=True, nullable=False),
    Column('spec', Text(), nullable=False),
    Column('status', String(length=16), nullable=False, default='open'),
    Column('created_at', Float(), nullable=False),
    Column('due_at', Float(), nullable=True),
    Index('ix_waits_exec', 'execution_uid', 'status'),
    Index('ix_waits_open_due', 'status', 'due_at'),
)
