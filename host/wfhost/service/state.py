"""`Service`: what every request handler reaches (the host, tokens, quotas, metrics)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from wfregistry.models import Tenant

from .quotas import Quotas, QuotaStore
from .tokens import TokenStore

__all__ = ["Service", "ServiceConfig"]


@dataclass(frozen=True)
class ServiceConfig:
    """The service's settings.

    Attributes:
        quotas: each tenant's quotas unless an admin changed them.
        grace: seconds in-flight attempts may take to finish on SIGTERM.
        max_upload_bytes: no upload larger than this is read at all (any tenant).
    """

    quotas: Quotas = field(default_factory=Quotas)
    grace: float = 30.0
    max_upload_bytes: int = 256 * 1024 * 1024


class Service:
    """The state behind the API. The `Host` is owned by whoever made it (`wfhost serve`, a test).

    Args:
        host: a started host: its client does every operation, its scheduler runs the work.
        config: the service settings.
    """

    def __init__(self, host: Any, config: ServiceConfig | None = None) -> None:
        from .metrics import Metrics

        self.host = host
        self.client = host.client
        self.engine = host.engine
        self.home: Path = host.home
        self.config = config or ServiceConfig()
        self.metrics = Metrics(self)
        self.tokens = TokenStore(self.engine, self.home)
        self.quotas = QuotaStore(self.engine, self.config.quotas, on_reject=self.metrics.quota_rejected)
        self.accepting = True

    def tenant_exists(self, name: str) -> bool:
        """Whether tenant ``name`` exists now."""
        with self.engine.connect() as conn:
            tn = Tenant.__table__  # type: ignore[attr-defined]
            return conn.execute(select(tn.c.name).where(tn.c.name == name)).first() is not None
