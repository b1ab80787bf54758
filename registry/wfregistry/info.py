"""`PackageInfo`: what the registry tells its callers about one registered version."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from wfpkg.manifest import Manifest

__all__ = ["PackageInfo"]


@dataclass(frozen=True)
class PackageInfo:
    """One registered version of a tenant's package.

    Attributes:
        id: the version's row id (stable; executions record it).
        tenant: the owning tenant.
        name: the package name.
        version: its normalized PEP 440 version.
        state: ``active``, ``inactive`` or ``retired``.
        key_id: the id of the key that signed it.
        archive_sha256: SHA-256 of the registered archive file.
        install_dir: where its wheels are installed (the worker's first ``sys.path`` entry).
        manifest: its signed manifest.
        registered_at: when it was registered (aware, UTC).
    """

    id: int
    tenant: str
    name: str
    version: str
    state: str
    key_id: str
    archive_sha256: str
    install_dir: Path
    manifest: Manifest
    registered_at: datetime

    @property
    def label(self) -> str:
        """``tenant::package@version``, as messages name it."""
        return f"{self.tenant}::{self.name}@{self.version}"
