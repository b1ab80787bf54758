"""The service's tables: API tokens (stored hashed) and per-tenant quota overrides.

They share `SQLModel.metadata` and the migration history with the other
tables; `wfhost.service` is their only user.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

__all__ = ["QuotaRow", "TokenRow"]


class TokenRow(SQLModel, table=True):
    """An API token: never the token itself, only its keyed hash (HMAC-SHA256)."""

    __tablename__: ClassVar[Any] = "api_tokens"
    __table_args__ = (Index("ix_api_tokens_tenant", "tenant"),)

    id: str = Field(primary_key=True, max_length=16)
    #: ``None`` for an admin token.
    tenant: str | None = Field(default=None, max_length=63)
    admin: bool = False
    label: str | None = Field(default=None, max_length=200)
    digest: str = Field(max_length=64)
    created_at: float
    revoked_at: float | None = None


class QuotaRow(SQLModel, table=True):
    """A tenant's quotas where they differ from the service defaults (``None``: the default)."""

    __tablename__: ClassVar[Any] = "tenant_quotas"

    tenant: str = Field(primary_key=True, max_length=63)
    concurrent_tasks: int | None = None
    starts_per_minute: int | None = None
    waiting_executions: int | None = None
    package_bytes: int | None = None
    signal_bytes: int | None = None
    uploads_per_hour: int | None = None
