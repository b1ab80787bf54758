"""The registry's tables (SQLModel), sharing `SQLModel.metadata` with the host's tables.

The host's Alembic migrations create them; tests may call
``SQLModel.metadata.create_all(engine)``. Nothing here is specific to one SQL
dialect: the tables work on SQLite and PostgreSQL. Every timestamp is a
timezone-aware UTC `datetime` going in and coming out (`UTCDateTime`), whatever
the database keeps.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Optional

from sqlalchemy import (
    BigInteger,
    Column,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from ._sqltypes import UTCDateTime, utcnow

__all__ = [
    "PackageArchive",
    "PackageState",
    "PackageVersion",
    "Tenant",
    "TenantPolicy",
    "TrustedKey",
    "UTCDateTime",
    "utcnow",
]

class PackageState(str, enum.Enum):
    """Lifecycle of a registered version.

    ``active``: new executions of ``package::workflow`` use it (one per tenant and package).
    ``inactive``: installed, superseded; running executions and pinned names still use it.
    ``retired``: unregistered; running executions drain, then the host purges its directory.
    """

    ACTIVE = "active"
    INACTIVE = "inactive"
    RETIRED = "retired"

class Tenant(SQLModel, table=True):
    """A namespace of packages, keys and executions."""

    __tablename__ = "tenants"

    name: str = Field(sa_column=Column(String(63), primary_key=True))
    created_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))

class TrustedKey(SQLModel, table=True):
    """A public key whose signatures a tenant accepts (until ``revoked_at``)."""

    __tablename__ = "trusted_keys"
    __table_args__ = (UniqueConstraint("tenant", "key_id", name="uq_trusted_keys_tenant_key"),)

    id: Optional[int] = Field(default=None, primary_key=True)  # noqa: UP045 - SQLModel needs Optional
    tenant: str = Field(sa_column=Column(String(63), ForeignKey("tenants.name"), nullable=False, index=True))
    key_id: str = Field(sa_column=Column(String(64), nullable=False))
    public_key: str = Field(sa_column=Column(Text, nullable=False))
    label: Optional[str] = Field(default=None, sa_column=Column(String(200), nullable=True))  # noqa: UP045
    added_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    revoked_at: Optional[datetime] = Field(  # noqa: UP045
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )

class PackageVersion(SQLModel, table=True):
    """One registered version of one tenant's package."""

    __tablename__ = "package_versions"
    __table_args__ = (
        UniqueConstraint("tenant", "name", "version", name="uq_package_versions_tenant_name_version"),
        # At most one active version per (tenant, package), enforced by the database too.
        Index(
            "uq_package_versions_one_active",
            "tenant",
            "name",
            unique=True,
            sqlite_where=text("state = 'active'"),
            postgresql_where=text("state = 'active'"),
        ),
    )

    id: Optional[int] = Field(default=None, primary_key=True)  # noqa: UP045
    tenant: str = Field(sa_column=Column(String(63), ForeignKey("tenants.name"), nullable=False, index=True))
    name: str = Field(sa_column=Column(String(63), nullable=False))
    version: str = Field(sa_column=Column(String(100), nullable=False))
    archive_sha256: str = Field(sa_column=Column(String(64), nullable=False))
    key_id: str = Field(sa_column=Column(String(64), nullable=False))
    manifest: str = Field(sa_column=Column(Text, nullable=False))
    # Where the registering host installed it. Every host installs a version under its
    # own home (`Registry.install_dir`) from the archive in `PackageArchive`; this is history.
    install_dir: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(sa_column=Column(String(16), nullable=False))
    registered_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
    retired_at: Optional[datetime] = Field(  # noqa: UP045
        default=None, sa_column=Column(UTCDateTime(), nullable=True)
    )


class PackageArchive(SQLModel, table=True):
    """A registered archive's signed bytes, addressed by their SHA-256: the one package store.

    Every host installs a version from here on first use, verifying it again
    against the tenant's keys as they are then.
    """

    __tablename__ = "package_archives"

    sha256: str = Field(sa_column=Column(String(64), primary_key=True))
    data: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    size: int
    stored_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))


class TenantPolicy(SQLModel, table=True):
    """What one tenant's workers may do (see `wfregistry.sandbox.Policy`); no row: the defaults.

    A ``NULL`` limit column means the host's default for that limit; ``-1`` means unlimited.
    ``allow_connect`` and ``env`` are JSON (a list of ports, an object of strings).
    """

    __tablename__ = "tenant_policies"

    tenant: str = Field(sa_column=Column(String(63), ForeignKey("tenants.name"), primary_key=True))
    allow_connect: str = Field(default="[]", sa_column=Column(Text, nullable=False))
    env: str = Field(default="{}", sa_column=Column(Text, nullable=False))
    memory: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # noqa: UP045
    cpu_seconds: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # noqa: UP045
    max_procs: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # noqa: UP045
    open_files: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # noqa: UP045
    file_size: Optional[int] = Field(default=None, sa_column=Column(BigInteger, nullable=True))  # noqa: UP045
    updated_at: datetime = Field(default_factory=utcnow, sa_column=Column(UTCDateTime(), nullable=False))
