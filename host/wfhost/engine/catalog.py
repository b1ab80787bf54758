"""Where workflow plans come from: plain-Python workflows added to a host, and registered packages.

The catalog turns a name a user writes into what the scheduler needs (the
plan, the package version it pins) without ever importing tenant code: for
packages it reads the manifest's static DAG.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wfhost.errors import InvalidRequest, NotFound
from wfpkg import InvalidName, Workflow
from wfpkg.names import parse_workflow_ref

from .plans import WorkflowPlan

if TYPE_CHECKING:
    from wfregistry import PackageInfo, Registry

__all__ = ["LOCAL_PACKAGE", "Catalog", "Target"]

LOCAL_PACKAGE = "local"


@dataclass(frozen=True)
class Target:
    """A resolved workflow: its plan and the package version executions of it pin."""

    plan: WorkflowPlan
    package: str
    version: str | None
    package_version_id: int | None


class Catalog:
    """Resolves workflow names for one host (thread-safe).

    Args:
        registry: the package registry, or ``None`` for a host of plain-Python workflows only.
    """

    def __init__(self, registry: Registry | None = None) -> None:
        self.registry = registry
        # Lookups happen inside the scheduler's write transaction: they go through a
        # reader view of the same engine, which on SQLite never waits for the write lock.
        self._lookup: Registry | None = registry
        if registry is not None:
            from wfhost.store.engine import reader
            from wfregistry import Registry as _Registry

            self._lookup = _Registry(reader(registry.engine), registry.packages_dir, registry.hooks,
                                     load_timeout=registry.load_timeout)
        self._local: dict[tuple[str, str, str], Workflow] = {}
        self._plans: dict[tuple[object, str], WorkflowPlan] = {}
        self._packages: dict[int, PackageInfo] = {}
        self._lock = threading.Lock()

    def add_local(self, workflow: Workflow, tenant: str, package: str = LOCAL_PACKAGE) -> None:
        """Make a plain-Python workflow runnable in this host's own threads."""
        workflow.validate()
        with self._lock:
            self._local[(tenant, package, workflow.name)] = workflow
            self._plans[((tenant, package), workflow.name)] = WorkflowPlan.from_dag(workflow.to_dict())

    def local_workflow(self, tenant: str, package: str, name: str) -> Workflow | None:
        """The plain-Python workflow, if this host has it."""
        return self._local.get((tenant, package, name))

    def package(self, version_id: int) -> PackageInfo:
        """The registered package version (for dispatching to its worker)."""
        if self._lookup is None:
            raise NotFound(f"package version {version_id} is not known to this host")
        info = self._packages.get(version_id)
        if info is None:  # a version's files and manifest never change once registered
            info = self._packages[version_id] = self._lookup.get(version_id)
        return info

    def installed(self, version_id: int) -> PackageInfo:
        """The package version, installed on this host (from the package store on first use).

        Raises:
            wfregistry.RegistryError: it cannot be installed here (its key was
                revoked since, its archive is missing, ...); the message says why.
        """
        info = self.package(version_id)
        assert self.registry is not None  # package() found it, so there is a registry
        return self.registry.ensure_installed(info)

    def resolve(self, tenant: str, name: str, *, package: str | None = None,
                version: str | None = None, version_id: int | None = None) -> Target:
        """Resolve ``name`` as ``tenant`` writes it.

        ``package``/``version``/``version_id`` give the calling execution's
        package, so that a child named by bare workflow name, or by its own
        package, runs on the parent's pinned version.
        """
        if "::" not in name and package is not None:
            name = f"{package}::{name}"
        try:
            ref = parse_workflow_ref(name, tenant)
        except InvalidName as exc:
            raise InvalidRequest(str(exc)) from None
        local = self._local.get((tenant, ref.package, ref.workflow))
        if local is not None and ref.version is None:
            return Target(self.plan(None, tenant, ref.package, ref.workflow), ref.package, None, None)
        if self._lookup is None:
            raise NotFound(f"no workflow {ref} (no such plain-Python workflow in this host)")
        if ref.package == package and ref.version is None and version_id is not None:
            info = self.package(version_id)
        else:
            from wfregistry import PackageNotFound, RegistryError, UnknownTenant

            try:
                info, _dag = self._lookup.resolve(tenant, ref)
            except (PackageNotFound, UnknownTenant) as exc:
                raise NotFound(f"no workflow {ref.local!r} for tenant {tenant!r}: {exc}") from None
            except RegistryError as exc:
                raise InvalidRequest(str(exc)) from None
        return Target(self.plan(info.id, tenant, info.name, ref.workflow, info=info),
                      info.name, info.version, info.id)

    def plan(self, version_id: int | None, tenant: str, package: str, workflow: str,
             info: PackageInfo | None = None) -> WorkflowPlan:
        """The plan of a workflow of a package version (cached), or of a local workflow."""
        key: object = version_id if version_id is not None else (tenant, package)
        cached = self._plans.get((key, workflow))
        if cached is not None:
            return cached
        if version_id is None:
            raise NotFound(f"plain-Python workflow {tenant}::{package}::{workflow} is not loaded in this host")
        info = info or self.package(version_id)
        dag = info.manifest.workflow(workflow)
        if dag is None:
            raise NotFound(f"package {info.name}@{info.version} has no workflow {workflow!r}")
        plan = WorkflowPlan.from_dag(dag)
        with self._lock:
            self._plans[(key, workflow)] = plan
        return plan
