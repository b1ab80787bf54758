"""API tokens: random, shown once, kept only as an HMAC-SHA256 under a server key.

A token reads ``wfh_<id>_<secret>``: the id finds the row, the keyed hash of
the whole token is compared in constant time. The key lives in the host's
home (``service.key``, mode 0600); hosts that share one database must share
that file. A leaked table without the key reveals no usable token.

Example::

    tokens = TokenStore(engine, home)
    token_id, token = tokens.create("acme", label="ci")   # print `token` once
    tokens.verify(token)        # Principal(token_id=..., tenant="acme", admin=False)
    tokens.revoke(token_id)     # the next request with it answers 401
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, insert, select, update

from wfhost.errors import NotFound
from wfhost.store._db import now
from wfhost.store.access import TokenRow

__all__ = ["KEY_FILE", "Principal", "TokenStore"]

KEY_FILE = "service.key"
_PREFIX = "wfh_"
_ID_HEX = 12
TK = TokenRow.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a tenant's token, or an admin token (``tenant`` is ``None``)."""

    token_id: str
    tenant: str | None
    admin: bool


def _server_key(home: Path) -> bytes:
    """The HMAC key: read from ``home/service.key``, created (0600) on first use."""
    path = home / KEY_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except FileNotFoundError:
        pass
    home.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


class TokenStore:
    """Creates, lists, revokes and verifies tokens.

    Args:
        engine: the store (owned by the caller).
        home: the host's home, where the hashing key is kept.
    """

    def __init__(self, engine: Engine, home: Path) -> None:
        self.engine = engine
        self._key = _server_key(Path(home))

    def _digest(self, token: str) -> str:
        return hmac.new(self._key, token.encode("utf-8"), hashlib.sha256).hexdigest()

    def create(self, tenant: str | None, *, label: str | None = None, admin: bool = False) -> tuple[str, str]:
        """A new token for ``tenant`` (or an admin token); returns ``(id, token)``.

        The token itself is returned only here; the store keeps its hash.
        The caller checks that the tenant exists.
        """
        if admin == (tenant is not None):
            raise ValueError("a token is either a tenant's or an admin's")
        token_id = secrets.token_hex(_ID_HEX // 2)
        token = f"{_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
        with self.engine.begin() as conn:
            conn.execute(insert(TK).values(id=token_id, tenant=tenant, admin=admin, label=label,
                                           digest=self._digest(token), created_at=now()))
        return token_id, token

    def list(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Every token (of one tenant), oldest first, without secrets."""
        q = select(TK.c.id, TK.c.tenant, TK.c.admin, TK.c.label, TK.c.created_at,
                   TK.c.revoked_at).order_by(TK.c.created_at, TK.c.id)
        if tenant is not None:
            q = q.where(TK.c.tenant == tenant)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(q)]

    def revoke(self, token_id: str) -> None:
        """Revoke a token; the next request with it answers 401.

        Raises:
            NotFound: no such token, or already revoked.
        """
        with self.engine.begin() as conn:
            done = conn.execute(update(TK).where(TK.c.id == token_id, TK.c.revoked_at.is_(None))
                                .values(revoked_at=now())).rowcount
        if not done:
            raise NotFound(f"no active token {token_id!r}")

    def forget_tenant(self, conn: Any, tenant: str) -> None:
        """Delete a tenant's tokens inside the caller's transaction (tenant deletion)."""
        conn.execute(delete(TK).where(TK.c.tenant == tenant))

    def verify(self, token: str) -> Principal | None:
        """The principal a token stands for, or ``None`` (unknown, malformed or revoked)."""
        if not token.startswith(_PREFIX) or len(token) < len(_PREFIX) + _ID_HEX + 2:
            return None
        token_id = token[len(_PREFIX):len(_PREFIX) + _ID_HEX]
        with self.engine.connect() as conn:
            row = conn.execute(select(TK.c.tenant, TK.c.admin, TK.c.digest, TK.c.revoked_at)
                               .where(TK.c.id == token_id)).first()
        if row is None or row.revoked_at is not None:
            return None
        if not hmac.compare_digest(row.digest, self._digest(token)):
            return None
        return Principal(token_id, row.tenant, bool(row.admin))
