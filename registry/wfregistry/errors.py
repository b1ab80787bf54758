"""Errors raised by the registry.

The tree::

    wfpkg.WfpkgError                the one root (wfpkg.errors draws the whole tree)
    └── RegistryError               every error this package raises
        ├── UnknownTenant               the tenant does not exist
        ├── TenantExists                create_tenant of a name already taken
        ├── TrustError                  a public key is malformed, already trusted, or unknown
        ├── PackageNotFound             no such package, version or workflow for this tenant
        └── RegistrationError           a package was refused; nothing was installed or recorded
            ├── ArchiveRejected         the archive failed verification (structure, hash, signature, trust)
            ├── IncompatiblePackage     its SDK range or required Python excludes this host
            ├── VersionConflict         same version with other content, a downgrade, a retired version
            ├── InstallError            a wheel could not be installed (bad RECORD hash, bad wheel)
            └── LoadError               its code failed to load in a worker (raised, hung, printed,
                                        crashed, entry point outside the package, DAG differs)

Every message is one line naming the tenant, package and version, what went
wrong and what to do. Name validation errors come from `wfpkg.InvalidName`,
raised by the one place names are checked (`wfpkg.names`).
"""

from __future__ import annotations

from typing import ClassVar

from wfpkg.errors import WfpkgError

__all__ = [
    "ArchiveRejected",
    "IncompatiblePackage",
    "InstallError",
    "LoadError",
    "PackageNotFound",
    "RegistrationError",
    "RegistryError",
    "TenantExists",
    "TrustError",
    "UnknownTenant",
    "VersionConflict",
]


class RegistryError(WfpkgError):
    """Base of every error raised by `wfregistry`; derives from the one root, `wfpkg.WfpkgError`."""

    code: ClassVar[str] = "registry"


class UnknownTenant(RegistryError):
    """The tenant named does not exist; create it first."""

    code: ClassVar[str] = "unknown_tenant"


class TenantExists(RegistryError):
    """`Registry.create_tenant` was given a name that is already a tenant."""

    code: ClassVar[str] = "tenant_exists"


class TrustError(RegistryError):
    """A public key is not a valid Ed25519 PEM key, is already trusted, or is not known."""

    code: ClassVar[str] = "trust"


class PackageNotFound(RegistryError):
    """No such package, version or workflow for this tenant (or it is retired)."""

    code: ClassVar[str] = "package_not_found"


class RegistrationError(RegistryError):
    """A package was refused. Nothing was installed and no row was written."""

    code: ClassVar[str] = "registration"


class ArchiveRejected(RegistrationError):
    """The archive failed verification: structure, hashes, signature, or trust for this tenant."""

    code: ClassVar[str] = "archive_rejected"


class IncompatiblePackage(RegistrationError):
    """The package's SDK range or required Python does not include this host's."""

    code: ClassVar[str] = "incompatible_package"


class VersionConflict(RegistrationError):
    """The version is taken with other content, lower than one registered, or retired."""

    code: ClassVar[str] = "version_conflict"


class InstallError(RegistrationError):
    """A wheel of the package could not be installed (bad wheel, RECORD hash mismatch)."""

    code: ClassVar[str] = "install"


class LoadError(RegistrationError):
    """The package's code failed to load in a worker process.

    Raised by a trial load at registration; at run time the same reasons turn
    into a failed, non-retryable `TaskOutcome`.
    """

    code: ClassVar[str] = "load"
