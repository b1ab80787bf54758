"""`Registry`: tenants, trusted keys, and the package store.

A registration is all or nothing: the archive is verified with the tenant's
trusted keys, its SDK and Python ranges checked, its version checked against
the tenant's others, its wheels installed into a staging directory, its code
loaded in a throwaway worker process and checked against the signed manifest;
only then is the row written and the directory moved into place. Any failure
leaves no row and no directory.

Example::

    registry = Registry(engine, Path("/var/lib/wfhost/packages"))
    registry.create_tenant("acme")
    registry.trust("acme", Path("author.pub").read_text(), label="ci")
    info = registry.register(Path("dist/data_processing-1.0.0.wfpkg"), "acme")
    info, dag = registry.resolve("acme", parse_workflow_ref("data_processing::pipeline", "acme"))
"""

from __future__ import annotations

import json
import logging
import platform
import shutil
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy
import sqlalchemy as sa
from packaging.version import Version
from sqlalchemy.exc import IntegrityError

import wfpkg
from wfpkg.errors import ArchiveError, WfpkgError
from wfpkg.manifest import Manifest
from wfpkg.names import WorkflowRef, check_name, check_version

from ._sqltypes import utcnow
from .errors import (
    ArchiveRejected,
    IncompatiblePackage,
    PackageNotFound,
    RegistrationError,
    TenantExists,
    TrustError,
    UnknownTenant,
    VersionConflict,
)
from .hooks import call_hook
from .info import PackageInfo
from .sandbox import DEFAULT_LIMITS, Limits, Policy, Walls

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    from sqlmodel import Session

    from wfpkg.archive import VerifiedPackage

    from .models import PackageVersion

# The ORM (SQLModel, pydantic), verifying (cryptography), installing (installer) and
# trial-loading (worker) are imported by the methods that need them: a host of
# plain-Python workflows never calls one, so it never pays for them.

__all__ = ["KeyInfo", "Registry"]

_log = logging.getLogger(__name__)
STAGING = ".staging"


@dataclass(frozen=True)
class KeyInfo:
    """A key a tenant trusts or trusted.

    Attributes:
        tenant, key_id, label: which key, for whom, under what name.
        public_key: its PEM text.
        added_at, revoked_at: when it was trusted, and revoked (``None`` while trusted).
    """

    tenant: str
    key_id: str
    label: str | None
    public_key: str
    added_at: datetime
    revoked_at: datetime | None


# Which version of a package is active, and whether the tenant exists, in one query.
_ACTIVE_VERSION = sa.text(
    "SELECT t.name, p.id FROM tenants t LEFT JOIN package_versions p "
    "ON p.tenant = t.name AND p.name = :package AND p.state = 'active' "  # PackageState.ACTIVE
    "WHERE t.name = :tenant")

class Registry:
    """Tenants, their trusted keys and their packages, kept in the database and on disk.

    Args:
        engine: the database; the caller owns it (creates the tables, disposes of it).
        packages_dir: where versions are installed, as ``<tenant>/<package>/<version>/``
            (created if missing; ``.staging/`` inside it holds registrations in progress).
        hooks: the operator extensions to tell about registrations (see `wfregistry.hooks`).
        load_timeout: seconds a package's trial load may take at registration.
        walls: the sandbox of the trial load (default: strict).
    """

    def __init__(
        self,
        engine: sa.Engine,
        packages_dir: Path,
        hooks: pluggy.PluginManager | None = None,
        *,
        load_timeout: float = 30.0,
        walls: Walls | None = None,
    ) -> None:
        self.engine = engine
        self.walls = walls or Walls(policy_for=self.policy)
        self.packages_dir = Path(packages_dir).resolve()
        self.hooks = hooks
        self.load_timeout = load_timeout
        self._staging = self.packages_dir / STAGING
        self._staging.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.packages_dir.chmod(0o700)
        self._register_lock = threading.Lock()

    # -- tenants ---------------------------------------------------------------------

    def create_tenant(self, name: str) -> None:
        """Create tenant ``name``.

        Raises:
            InvalidName: not a valid name.
            TenantExists: the tenant already exists.
        """
        from sqlmodel import Session

        from .models import Tenant

        check_name(name, "tenant")
        with Session(self.engine) as s:
            if s.get(Tenant, name) is not None:
                raise TenantExists(f"tenant {name!r} already exists")
            s.add(Tenant(name=name))
            try:
                s.commit()
            except IntegrityError:
                raise TenantExists(f"tenant {name!r} already exists") from None

    def tenants(self) -> list[str]:
        """Every tenant's name, sorted."""
        from sqlmodel import Session, select

        from .models import Tenant

        with Session(self.engine) as s:
            return list(s.exec(select(Tenant.name).order_by(Tenant.name)))

    def _need_tenant(self, s: Session, tenant: str) -> None:
        from .models import Tenant

        check_name(tenant, "tenant")
        if s.get(Tenant, tenant) is None:
            raise UnknownTenant(f"tenant {tenant!r} does not exist; create it first")

    # -- policies ------------------------------------------------------------------------

    _LIMITS = ("memory", "cpu_seconds", "max_procs", "open_files", "file_size")

    def set_policy(self, tenant: str, *, allow_connect: Sequence[int] | None = None,
                   env: dict[str, str] | None = None, reset: bool = False,
                   **limits: int | None) -> Policy:
        """Change what ``tenant``'s workers may do; arguments left out keep their value.

        Args:
            allow_connect: TCP ports its code may connect to (replaces the list).
            env: environment variables its workers see (replaces the set).
            reset: start from the defaults.
            limits: ``memory``, ``cpu_seconds``, ``max_procs``, ``open_files``,
                ``file_size`` (bytes or counts; ``-1``: unlimited).

        Workers started after the change get it; running ones keep theirs.

        Raises:
            UnknownTenant: no such tenant.
            ValueError: a port, limit or variable name that makes no sense.
        """
        from sqlmodel import Session

        from .models import TenantPolicy

        unknown = set(limits) - set(self._LIMITS)
        if unknown:
            raise ValueError(f"unknown limit(s): {', '.join(sorted(unknown))}")
        for port in allow_connect or ():
            if not 1 <= int(port) <= 65535:
                raise ValueError(f"port {port} is not between 1 and 65535")
        for name, value in limits.items():
            if value is not None and value < 1 and value != -1:
                raise ValueError(f"{name} must be positive (or -1 for unlimited), not {value}")
        for key in env or {}:
            if not key or "=" in key or "\0" in key:
                raise ValueError(f"{key!r} is not an environment variable name")
        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
            row = s.get(TenantPolicy, tenant)
            if row is None or reset:
                if row is not None:
                    s.delete(row)
                    s.flush()
                row = TenantPolicy(tenant=tenant)
            if allow_connect is not None:
                row.allow_connect = json.dumps(sorted({int(p) for p in allow_connect}))
            if env is not None:
                row.env = json.dumps(dict(sorted(env.items())))
            for name, value in limits.items():
                if value is not None:
                    setattr(row, name, value)
            row.updated_at = utcnow()
            s.add(row)
            s.commit()
        return self.policy(tenant)

    def policy(self, tenant: str) -> Policy:
        """What ``tenant``'s workers may do now (the defaults for a tenant with no policy)."""
        from sqlmodel import Session

        from .models import TenantPolicy

        with Session(self.engine) as s:
            row = s.get(TenantPolicy, tenant)
        if row is None:
            return Policy()
        values: dict[str, int | None] = {}
        for name in self._LIMITS:
            value = getattr(row, name)
            values[name] = getattr(DEFAULT_LIMITS, name) if value is None else (None if value == -1 else value)
        return Policy(allow_connect=tuple(json.loads(row.allow_connect)), env=json.loads(row.env),
                      limits=Limits(**values))

    # -- keys ------------------------------------------------------------------------

    def trust(self, tenant: str, public_key_pem: str | bytes, label: str | None = None) -> str:
        """Trust a public key for ``tenant``'s packages; returns its key id.

        Trusting a key the tenant revoked earlier trusts it again.

        Raises:
            UnknownTenant: no such tenant.
            TrustError: not an Ed25519 PEM public key, or already trusted.
        """
        from sqlmodel import Session, select

        from wfpkg.keys import key_id as compute_key_id
        from wfpkg.keys import load_public_key, public_key_text

        from .models import TrustedKey

        try:
            pub = load_public_key(public_key_pem)
        except WfpkgError as exc:
            raise TrustError(f"cannot trust key for tenant {tenant!r}: {exc}") from None
        kid = compute_key_id(pub)
        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
            row = s.exec(select(TrustedKey).where(TrustedKey.tenant == tenant,
                                                  TrustedKey.key_id == kid)).first()
            if row is not None and row.revoked_at is None:
                raise TrustError(f"key {kid} is already trusted by tenant {tenant!r}")
            if row is None:
                row = TrustedKey(tenant=tenant, key_id=kid, public_key=public_key_text(pub), label=label)
            else:
                row.revoked_at, row.added_at, row.label = None, utcnow(), label or row.label
            s.add(row)
            s.commit()
        return kid

    def revoke(self, tenant: str, key_id: str) -> None:
        """Stop trusting a key, from now on. Versions it signed stay registered.

        Raises:
            UnknownTenant: no such tenant.
            TrustError: the tenant does not trust that key.
        """
        from sqlmodel import Session, select

        from .models import TrustedKey

        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
            row = s.exec(select(TrustedKey).where(TrustedKey.tenant == tenant,
                                                  TrustedKey.key_id == key_id)).first()
            if row is None or row.revoked_at is not None:
                raise TrustError(f"tenant {tenant!r} does not trust key {key_id!r}")
            row.revoked_at = utcnow()
            s.add(row)
            s.commit()

    def keys(self, tenant: str) -> list[KeyInfo]:
        """Every key the tenant trusts or trusted, oldest first."""
        from sqlmodel import Session, col, select

        from .models import TrustedKey

        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
            rows = s.exec(select(TrustedKey).where(TrustedKey.tenant == tenant)
                          .order_by(col(TrustedKey.id)))
            return [KeyInfo(r.tenant, r.key_id, r.label, r.public_key, r.added_at, r.revoked_at)
                    for r in rows]

    def trusted_keys(self, tenant: str) -> dict[str, Ed25519PublicKey]:
        """Key id -> public key of every key ``tenant`` trusts now (revoked ones excluded)."""
        from wfpkg.keys import load_public_key

        return {k.key_id: load_public_key(k.public_key) for k in self.keys(tenant) if k.revoked_at is None}

    # -- packages --------------------------------------------------------------------

    def register(self, archive: Path, tenant: str, *, allow_downgrade: bool = False) -> PackageInfo:
        """Verify, install, load-check and record a package version; it becomes the active one.

        Registering the same version with the same archive again returns the
        existing version unchanged.

        Args:
            archive: the `.wfpkg` file.
            tenant: the tenant registering it (its trusted keys decide).
            allow_downgrade: accept a version lower than one already registered.

        Raises:
            UnknownTenant: no such tenant.
            ArchiveRejected: verification failed (structure, hashes, signature, trust).
            IncompatiblePackage: SDK range or required Python excludes this host.
            VersionConflict: the version exists with other content, is retired, or is a downgrade.
            InstallError: a wheel is broken (e.g. a RECORD hash mismatch).
            LoadError: the code does not load, or does not match the manifest.
        """
        from sqlmodel import Session

        from wfpkg.archive import verify_archive

        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
        try:
            pkg = verify_archive(Path(archive), self.trusted_keys(tenant))
        except ArchiveError as exc:
            raise ArchiveRejected(f"package refused for tenant {tenant!r}: {exc}") from None
        m = pkg.manifest
        label = f"{tenant}::{m.name}@{m.version}"
        self._check_compatible(m, label)
        with self._register_lock:
            existing = self._check_version(tenant, m, pkg.sha256, label, allow_downgrade)
            if existing is not None:
                return existing
            work = Path(tempfile.mkdtemp(prefix=f"{tenant}__{m.name}__{m.version}.", dir=self._staging))
            try:
                info = self._install_and_commit(work, tenant, pkg, label)
            finally:
                shutil.rmtree(work, ignore_errors=True)
        _log.info("registered %s (key %s)", label, pkg.key_id)
        call_hook(self.hooks, "wfhost_package_registered", tenant=tenant, package=m.name,
                  version=m.version)
        return info

    def _check_compatible(self, m: Manifest, label: str) -> None:
        from packaging.specifiers import SpecifierSet

        problems = []
        if not SpecifierSet(m.sdk).contains(wfpkg.__version__, prereleases=True):
            problems.append(f"it needs SDK {m.sdk} but this host provides wfpkg {wfpkg.__version__}")
        py = platform.python_version()
        if not SpecifierSet(m.requires_python).contains(py, prereleases=True):
            problems.append(f"it needs Python {m.requires_python} but this host runs {py}")
        if problems:
            raise IncompatiblePackage(f"{label} refused: " + "; ".join(problems))

    def _check_version(self, tenant: str, m: Manifest, sha256: str, label: str,
                       allow_downgrade: bool) -> PackageInfo | None:
        from sqlmodel import Session, select

        from .models import PackageState, PackageVersion

        with Session(self.engine) as s:
            rows = list(s.exec(select(PackageVersion).where(PackageVersion.tenant == tenant,
                                                            PackageVersion.name == m.name)))
        same = next((r for r in rows if Version(r.version) == Version(m.version)), None)
        if same is not None:
            if same.archive_sha256 != sha256:
                raise VersionConflict(
                    f"{label} is already registered with different content "
                    f"(sha256 {same.archive_sha256[:12]}…, this archive {sha256[:12]}…); bump the version"
                )
            if same.state == PackageState.RETIRED.value:
                raise VersionConflict(f"{label} was unregistered; register a new version instead")
            return self._info(same)
        highest = max((Version(r.version) for r in rows), default=None)
        if highest is not None and Version(m.version) < highest and not allow_downgrade:
            raise VersionConflict(
                f"{label} is lower than version {highest} already registered; "
                "pass allow_downgrade to register it anyway"
            )
        return None

    def _install_and_commit(self, work: Path, tenant: str, pkg: VerifiedPackage,
                            label: str) -> PackageInfo:
        from sqlmodel import Session, select

        from .install import install_wheels
        from .models import PackageArchive, PackageState, PackageVersion
        from .worker import trial_load

        m = pkg.manifest
        staged = work / "install"
        install_wheels(pkg.wheels, staged, label=label)
        trial_load(staged, m.name, m, timeout=self.load_timeout, log_path=work / "load.log", label=label,
                   walls=self.walls, tenant=tenant)
        final = self.install_dir(tenant, m.name, m.version)
        if final.exists():  # left by a crash between rename and commit: no row owns it
            shutil.rmtree(final)
        final.parent.mkdir(parents=True, exist_ok=True)
        staged.rename(final)
        try:
            with Session(self.engine) as s:
                for row in s.exec(select(PackageVersion).where(
                        PackageVersion.tenant == tenant, PackageVersion.name == m.name,
                        PackageVersion.state == PackageState.ACTIVE.value)):
                    row.state = PackageState.INACTIVE.value
                    s.add(row)
                s.flush()
                if s.get(PackageArchive, pkg.sha256) is None:
                    s.add(PackageArchive(sha256=pkg.sha256, data=pkg.data, size=len(pkg.data)))
                row = PackageVersion(tenant=tenant, name=m.name, version=m.version,
                                     archive_sha256=pkg.sha256, key_id=pkg.key_id,
                                     manifest=pkg.members["manifest.toml"].decode("utf-8"),
                                     install_dir=str(final), state=PackageState.ACTIVE.value)
                s.add(row)
                s.commit()
                s.refresh(row)
                return self._info(row)
        except BaseException as exc:
            shutil.rmtree(final, ignore_errors=True)
            self._prune(final.parent)
            if isinstance(exc, IntegrityError):
                raise RegistrationError(
                    f"{label}: another registration of this package committed first; try again"
                ) from None
            raise

    def _prune(self, package_dir: Path) -> None:
        """Remove empty ``<tenant>/<package>`` folders left by a failed or purged version."""
        for d in (package_dir, package_dir.parent):
            try:
                d.rmdir()
            except OSError:
                return

    def unregister(self, tenant: str, package: str, version: str | None = None) -> PackageInfo:
        """Retire the active version of ``package`` (or the named one).

        New executions can no longer use it; running ones drain. No other
        version becomes active by itself: use `activate` to roll back. Once
        the host has drained the version's executions it calls `purge`.

        Raises:
            PackageNotFound: no such (non-retired) version, or no active one.
        """
        from sqlmodel import Session

        from .models import PackageState

        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
            row = self._row(s, tenant, package, version)
            row.state = PackageState.RETIRED.value
            row.retired_at = utcnow()
            s.add(row)
            s.commit()
            s.refresh(row)
            info = self._info(row)
        call_hook(self.hooks, "wfhost_package_unregistered", tenant=tenant, package=package,
                  version=info.version)
        return info

    def activate(self, tenant: str, package: str, version: str) -> PackageInfo:
        """Make an installed (inactive) version the active one again: a rollback.

        Raises:
            PackageNotFound: no such version, or it is retired.
        """
        from sqlmodel import Session, select

        from .models import PackageState, PackageVersion

        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
            row = self._row(s, tenant, package, version)
            for other in s.exec(select(PackageVersion).where(
                    PackageVersion.tenant == tenant, PackageVersion.name == package,
                    PackageVersion.state == PackageState.ACTIVE.value)):
                other.state = PackageState.INACTIVE.value
                s.add(other)
            s.flush()
            row.state = PackageState.ACTIVE.value
            s.add(row)
            s.commit()
            s.refresh(row)
            return self._info(row)

    def purge(self, version_id: int) -> None:
        """Delete a retired version's install directory (the host calls it once drained).

        Raises:
            PackageNotFound: no such version.
            VersionConflict: the version is not retired.
        """
        from .models import PackageState

        info = self.get(version_id)
        if info.state != PackageState.RETIRED.value:
            raise VersionConflict(f"{info.label} is {info.state}, not retired; unregister it first")
        shutil.rmtree(info.install_dir, ignore_errors=True)
        self._prune(info.install_dir.parent)

    def packages(self, tenant: str | None = None) -> list[PackageInfo]:
        """Every registered version (of one tenant, or all), by tenant, name and version."""
        from sqlmodel import Session, select

        from .models import PackageVersion

        with Session(self.engine) as s:
            query = select(PackageVersion)
            if tenant is not None:
                self._need_tenant(s, tenant)
                query = query.where(PackageVersion.tenant == tenant)
            rows = list(s.exec(query))
        rows.sort(key=lambda r: (r.tenant, r.name, Version(r.version)))
        return [self._info(r) for r in rows]

    def get(self, version_id: int) -> PackageInfo:
        """The version with this id (whatever its state).

        Raises:
            PackageNotFound: no such version.
        """
        from sqlmodel import Session

        from .models import PackageVersion

        with Session(self.engine) as s:
            row = s.get(PackageVersion, version_id)
            if row is None:
                raise PackageNotFound(f"no package version with id {version_id}")
            return self._info(row)

    def resolve(self, tenant: str, ref: WorkflowRef) -> tuple[PackageInfo, dict[str, Any]]:
        """The version and workflow DAG a workflow name means for ``tenant`` now.

        ``ref.version`` pins a version (active or inactive); otherwise the
        active version is used.

        Raises:
            PackageNotFound: another tenant's name, no such package, version or
                workflow, or the package has no active version.
        """
        from sqlmodel import Session

        if ref.tenant != tenant:
            raise PackageNotFound(f"{ref} belongs to tenant {ref.tenant!r}, not {tenant!r}")
        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
            info = self._info(self._row(s, tenant, ref.package, ref.version))
        dag = info.manifest.workflow(ref.workflow)
        if dag is None:
            names = ", ".join(w["name"] for w in info.manifest.workflows)
            raise PackageNotFound(f"{info.label} has no workflow {ref.workflow!r} (it has: {names})")
        return info, dag

    def resolve_id(self, tenant: str, ref: WorkflowRef) -> int:
        """The id of the version ``ref`` means for ``tenant`` now, without parsing its manifest.

        A version's manifest never changes, so callers cache what they parse
        by this id (`resolve` parses it on every call).

        Raises:
            PackageNotFound: another tenant's name, no such package or version,
                or the package has no active version.
        """
        from sqlmodel import Session

        if ref.tenant != tenant:
            raise PackageNotFound(f"{ref} belongs to tenant {ref.tenant!r}, not {tenant!r}")
        if ref.version is None:  # the common case, on every `schedule`: one Core query, no ORM
            check_name(tenant, "tenant")
            check_name(ref.package, "package name")
            with self.engine.connect() as conn:
                found = conn.execute(_ACTIVE_VERSION, {"tenant": tenant, "package": ref.package}).first()
            if found is None:
                raise UnknownTenant(f"tenant {tenant!r} does not exist; create it first")
            if found.id is None:
                raise PackageNotFound(f"tenant {tenant!r} has no active version of package {ref.package!r}")
            return int(found.id)
        with Session(self.engine) as s:
            self._need_tenant(s, tenant)
            row = self._row(s, tenant, ref.package, ref.version)
            assert row.id is not None
            return row.id

    def _row(self, s: Session, tenant: str, package: str, version: str | None) -> PackageVersion:
        from sqlmodel import select

        from .models import PackageState, PackageVersion

        check_name(package, "package name")
        query = select(PackageVersion).where(PackageVersion.tenant == tenant,
                                             PackageVersion.name == package)
        if version is None:
            row = s.exec(query.where(PackageVersion.state == PackageState.ACTIVE.value)).first()
            if row is None:
                raise PackageNotFound(f"tenant {tenant!r} has no active version of package {package!r}")
            found: PackageVersion = row
            return found
        version = check_version(version, "package version")
        # PEP 440 equality: a pin of 1.0 names 1.0.0.
        row = next((r for r in s.exec(query) if Version(r.version) == Version(version)), None)
        if row is None or row.state == PackageState.RETIRED.value:
            what = "was unregistered" if row is not None else "is not registered"
            raise PackageNotFound(f"{tenant}::{package}@{version} {what}")
        pinned: PackageVersion = row
        return pinned

    def install_dir(self, tenant: str, package: str, version: str) -> Path:
        """Where this host installs a version: ``<packages_dir>/<tenant>/<package>/<version>``."""
        return self.packages_dir / tenant / package / version

    def ensure_installed(self, info: PackageInfo) -> PackageInfo:
        """Install a registered version on this host from the package store, if it is not yet.

        A version registered through another host is fetched from the store,
        verified again against the tenant's keys as they are now (so a version
        whose key was revoked since is not installed anew), checked against
        this host, installed into staging and moved into place. A version
        already installed here is used as it is.

        Raises:
            PackageNotFound: the store has no archive for it.
            ArchiveRejected: it no longer verifies (revoked key, altered bytes).
            IncompatiblePackage, InstallError: as at registration.
        """
        from sqlmodel import Session

        from .models import PackageArchive

        if info.install_dir.is_dir():
            return info
        from wfpkg.archive import verify_archive_bytes

        from .install import install_wheels

        with self._register_lock:
            if info.install_dir.is_dir():  # another thread installed it meanwhile
                return info
            with Session(self.engine) as s:
                stored = s.get(PackageArchive, info.archive_sha256)
                data = stored.data if stored is not None else None
            if data is None:
                raise PackageNotFound(f"{info.label}: its archive is not in the package store")
            where = f"package store {info.archive_sha256[:12]}"
            try:
                pkg = verify_archive_bytes(data, where, self.trusted_keys(info.tenant))
            except ArchiveError as exc:
                raise ArchiveRejected(
                    f"{info.label} is not installed on this host: it no longer verifies for tenant "
                    f"{info.tenant!r} ({exc}); register a version signed by a trusted key") from None
            if pkg.sha256 != info.archive_sha256:
                raise ArchiveRejected(f"{info.label}: the stored archive's hash does not match its row")
            self._check_compatible(pkg.manifest, info.label)
            work = Path(tempfile.mkdtemp(prefix=f"{info.tenant}__{info.name}__{info.version}.",
                                         dir=self._staging))
            try:
                install_wheels(pkg.wheels, work / "install", label=info.label)
                info.install_dir.parent.mkdir(parents=True, exist_ok=True)
                try:
                    (work / "install").rename(info.install_dir)
                except OSError:
                    if not info.install_dir.is_dir():  # not another process sharing this home
                        raise
            finally:
                shutil.rmtree(work, ignore_errors=True)
        _log.info("installed %s from the package store", info.label)
        return info

    def _info(self, row: PackageVersion) -> PackageInfo:
        assert row.id is not None
        return PackageInfo(
            id=row.id, tenant=row.tenant, name=row.name, version=row.version, state=row.state,
            key_id=row.key_id, archive_sha256=row.archive_sha256,
            install_dir=self.install_dir(row.tenant, row.name, row.version),
            manifest=Manifest.from_bytes(row.manifest.encode("utf-8")), registered_at=row.registered_at,
        )
