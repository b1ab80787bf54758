"""The public namespace of `wfregistry` is frozen, and it never imports the host."""

from __future__ import annotations

import subprocess
import sys

import wfregistry


def test_exported_names() -> None:
    assert sorted(wfregistry.__all__) == [
        "ArchiveRejected", "IncompatiblePackage", "InstallError", "KeyInfo", "LoadError",
        "PackageInfo", "PackageNotFound", "PackageState", "PackageVersion", "RegistrationError",
        "Registry", "RegistryError", "Tenant", "TenantExists", "TrustError", "TrustedKey",
        "UnknownTenant", "VersionConflict", "WorkerPool", "extension_manager", "trial_load",
    ]
    for name in wfregistry.__all__:
        assert getattr(wfregistry, name) is not None


def test_every_error_derives_from_registry_error() -> None:
    for name in wfregistry.__all__:
        obj = getattr(wfregistry, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, wfregistry.RegistryError), name


def test_registry_never_imports_the_host_and_workers_stay_light() -> None:
    code = (
        "import sys, wfregistry, wfregistry.registry, wfregistry.worker;"
        "assert not any(m == 'wfhost' or m.startswith('wfhost.') for m in sys.modules), 'wfhost imported';"
        "import subprocess;"
    )
    subprocess.run([sys.executable, "-I", "-c", code], check=True)
    light = ("import sys, wfregistry._worker_main;"
             "assert 'sqlalchemy' not in sys.modules and 'sqlmodel' not in sys.modules;"
             "assert 'pydantic' not in sys.modules, 'a worker validates nothing the host verified'")
    subprocess.run([sys.executable, "-I", "-c", light], check=True)
