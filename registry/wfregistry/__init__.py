"""wfregistry: trust, store, install, load and hot-swap tenants' workflow packages.

`Registry` keeps tenants, their trusted keys and their package versions;
`WorkerPool` runs a version's tasks in its own worker process, the only place
tenant code is imported. The host (`wfhost`) builds on both; this package
never imports it.

Names are imported on first use (PEP 562), so that a worker process, which
runs ``wfregistry._worker_main``, does not load SQLAlchemy and the store.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .errors import (
        ArchiveRejected,
        IncompatiblePackage,
        InstallError,
        LoadError,
        PackageNotFound,
        RegistrationError,
        RegistryError,
        TenantExists,
        TrustError,
        UnknownTenant,
        VersionConflict,
    )
    from .hooks import extension_manager
    from .info import PackageInfo
    from .models import PackageState, PackageVersion, Tenant, TrustedKey
    from .registry import KeyInfo, Registry
    from .worker import WorkerPool, trial_load

__all__ = [
    "ArchiveRejected",
    "IncompatiblePackage",
    "InstallError",
    "KeyInfo",
    "LoadError",
    "PackageInfo",
    "PackageNotFound",
    "PackageState",
    "PackageVersion",
    "RegistrationError",
    "Registry",
    "RegistryError",
    "Tenant",
    "TenantExists",
    "TrustError",
    "TrustedKey",
    "UnknownTenant",
    "VersionConflict",
    "WorkerPool",
    "extension_manager",
    "trial_load",
]

_HOMES = {
    **dict.fromkeys(
        ["ArchiveRejected", "IncompatiblePackage", "InstallError", "LoadError", "PackageNotFound",
         "RegistrationError", "RegistryError", "TenantExists", "TrustError", "UnknownTenant",
         "VersionConflict"], "errors"),
    "extension_manager": "hooks",
    "PackageInfo": "info",
    **dict.fromkeys(["PackageState", "PackageVersion", "Tenant", "TrustedKey"], "models"),
    **dict.fromkeys(["KeyInfo", "Registry"], "registry"),
    **dict.fromkeys(["WorkerPool", "trial_load"], "worker"),
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'wfregistry' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{home}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
