"""Registration: what is accepted, what is refused, and that a refusal leaves nothing behind."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from support.packages import make_key

from wfpkg.archive import MANIFEST
from wfpkg.manifest import Manifest
from wfpkg.names import parse_workflow_ref
from wfregistry import (
    ArchiveRejected,
    IncompatiblePackage,
    InstallError,
    LoadError,
    PackageNotFound,
    TenantExists,
    TrustError,
    UnknownTenant,
    VersionConflict,
    extension_manager,
)
from wfregistry.hooks import hookimpl

if TYPE_CHECKING:
    from conftest import Env

# The store's behaviour is checked on SQLite and on PostgreSQL (skipped if not reachable).
pytestmark = pytest.mark.parametrize("db_url", ["sqlite", "postgresql"], indirect=True)


def refused(env: Env, exc: type[Exception], archive: Path, tenant: str, match: str,
            **kwargs: object) -> str:
    """Register, expect ``exc`` matching ``match``, and check nothing changed in store or on disk."""
    before = env.snapshot()
    with pytest.raises(exc, match=match) as info:
        env.registry.register(archive, tenant, **kwargs)  # type: ignore[arg-type]
    assert env.snapshot() == before, "a refused registration changed the store or the packages dir"
    message = str(info.value)
    assert "\n" not in message
    return message


def test_register_installs_activates_and_resolves(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    info = env.registry.register(built["alpha1"], "acme")
    assert (info.tenant, info.name, info.version, info.state) == ("acme", "alpha", "1.0.0", "active")
    assert info.install_dir == env.registry.packages_dir / "acme" / "alpha" / "1.0.0"
    assert (info.install_dir / "alpha" / "workflows.py").is_file()
    assert info.key_id == env.author.key_id
    assert info.registered_at.tzinfo is not None
    assert not any((env.registry.packages_dir / ".staging").iterdir())
    found, dag = env.registry.resolve("acme", parse_workflow_ref("alpha::main", "acme"))
    assert found == info and dag["name"] == "main"
    assert [p.version for p in env.registry.packages("acme")] == ["1.0.0"]
    assert env.registry.get(info.id) == info


def test_same_version_same_content_is_idempotent(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    first = env.registry.register(built["alpha1"], "acme")
    before = env.snapshot()
    assert env.registry.register(built["alpha1"], "acme") == first
    assert env.snapshot() == before


def test_untrusted_key_is_refused(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    stranger = make_key(env.tmp, "stranger")
    message = refused(env, ArchiveRejected, env.signed(built["alpha1"], stranger), "acme",
                      "not trusted|untrusted|unknown")
    assert "acme" in message


def test_key_trusted_only_by_another_tenant_is_refused(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    globex_key = env.tenant("globex", make_key(env.tmp, "globex"))
    archive = env.signed(built["alpha1"], globex_key)
    assert env.registry.register(archive, "globex").tenant == "globex"
    refused(env, ArchiveRejected, archive, "acme", "acme")


def test_revoked_key_is_refused_at_once(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    env.registry.register(built["alpha1"], "acme")
    env.registry.revoke("acme", env.author.key_id)
    assert env.registry.trusted_keys("acme") == {}
    assert env.registry.keys("acme")[0].revoked_at is not None
    refused(env, ArchiveRejected, built["alpha2"], "acme", "acme")
    # Trusting it again works again.
    env.registry.trust("acme", env.author.pub_path.read_text())
    assert env.registry.register(built["alpha2"], "acme").version == "2.0.0"


def test_tampered_archive_is_refused(env: Env, built: dict[str, Path], edit_wheel: Callable[..., bytes]) -> None:
    env.tenant("acme")
    tampered = env.tmp / "tampered.wfpkg"
    with zipfile.ZipFile(built["alpha1"]) as src, zipfile.ZipFile(tampered, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename.startswith("wheels/"):
                data = edit_wheel(data, {"workflows.py": lambda b: b + b"\n# evil\n"}, fix_record=True)
            dst.writestr(item, data)
    message = refused(env, ArchiveRejected, tampered, "acme", "wheels/")
    assert "alpha" in message


def test_downgrade_is_refused_unless_allowed(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    env.registry.register(built["alpha2"], "acme")
    refused(env, VersionConflict, built["alpha1"], "acme",
            r"acme::alpha@1\.0\.0 is lower than version 2\.0\.0.*allow_downgrade")
    info = env.registry.register(built["alpha1"], "acme", allow_downgrade=True)
    assert info.state == "active"
    assert {p.version: p.state for p in env.registry.packages("acme")} == {"1.0.0": "active", "2.0.0": "inactive"}


def test_same_version_different_content_is_refused(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    env.registry.register(built["alpha1"], "acme")
    refused(env, VersionConflict, built["alpha1_globex"], "acme", "already registered with different content")


def test_entry_point_outside_the_package_is_refused(env: Env, built: dict[str, Path], craft: Callable[..., Path],
                                                    edit_wheel: Callable[..., bytes]) -> None:
    env.tenant("acme")

    def point_at_os(wheel: bytes) -> bytes:
        return edit_wheel(wheel, {"entry_points.txt": lambda b: b.replace(b"alpha.workflows", b"os")},
                          fix_record=True)

    def manifest(doc: dict[str, Any]) -> None:
        doc["entry_points"] = {"alpha": "os"}

    archive = craft(built["alpha1"], env.author, env.tmp / "outside.wfpkg", wheel=point_at_os, manifest=manifest)
    message = refused(env, LoadError, archive, "acme", "outside the package")
    assert "acme::alpha@1.0.0" in message and "'os'" in message


def test_manifest_dag_differing_from_code_is_refused(env: Env, built: dict[str, Path],
                                                     craft: Callable[..., Path]) -> None:
    env.tenant("acme")
    with zipfile.ZipFile(built["alpha1"]) as zf:
        old_dag = Manifest.from_bytes(zf.read(MANIFEST)).workflows

    def old_workflows(doc: dict[str, Any]) -> None:
        doc["workflows"] = old_dag

    # alpha 1.1.0's code has an extra task; its manifest is re-signed with 1.0.0's DAG.
    archive = craft(built["alpha11_extra"], env.author, env.tmp / "dag.wfpkg", manifest=old_workflows)
    message = refused(env, LoadError, archive, "acme", "differ from the signed manifest")
    assert "'extra'" in message and "acme::alpha@1.1.0" in message


def test_wrong_record_hash_is_refused(env: Env, built: dict[str, Path], craft: Callable[..., Path],
                                      edit_wheel: Callable[..., bytes]) -> None:
    env.tenant("acme")

    def edit(wheel: bytes) -> bytes:
        return edit_wheel(wheel, {"workflows.py": lambda b: b + b"\n# changed after RECORD\n"},
                          fix_record=False)

    archive = craft(built["alpha1"], env.author, env.tmp / "record.wfpkg", wheel=edit)
    message = refused(env, InstallError, archive, "acme", "RECORD|hash")
    assert "acme::alpha" in message and "workflows.py" in message


def test_incompatible_sdk_is_refused(env: Env, built: dict[str, Path], craft: Callable[..., Path]) -> None:
    env.tenant("acme")

    def sdk(doc: dict[str, Any]) -> None:
        doc["package"]["sdk"] = ">=9"

    archive = craft(built["alpha1"], env.author, env.tmp / "sdk.wfpkg", manifest=sdk)
    refused(env, IncompatiblePackage, archive, "acme", "needs SDK >=9")


def test_load_failures_at_registration_are_refused(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    env.registry.load_timeout = 2.0
    refused(env, LoadError, built["raises"], "acme", r"acme::raises@1\.0\.0.*RuntimeError: database unreachable")
    refused(env, LoadError, built["prints"], "acme", r"acme::prints@1\.0\.0.*printed to stdout.*hello from import")
    refused(env, LoadError, built["hangs"], "acme", r"acme::hangs@1\.0\.0.*longer than 2s")


def test_tenants_and_keys(env: Env) -> None:
    env.registry.create_tenant("acme")
    with pytest.raises(TenantExists):
        env.registry.create_tenant("acme")
    with pytest.raises(UnknownTenant, match="nope"):
        env.registry.trust("nope", env.author.pub_path.read_text())
    with pytest.raises(TrustError, match="not a PEM"):
        env.registry.trust("acme", "garbage")
    kid = env.registry.trust("acme", env.author.pub_path.read_text(), label="ci")
    assert kid == env.author.key_id
    with pytest.raises(TrustError, match="already trusted"):
        env.registry.trust("acme", env.author.pub_path.read_text())
    assert env.registry.tenants() == ["acme"]
    assert [(k.key_id, k.label) for k in env.registry.keys("acme")] == [(kid, "ci")]


def test_resolve_names_only_the_tenants_own_packages(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    env.tenant("globex")
    env.registry.register(built["alpha1"], "acme")
    with pytest.raises(PackageNotFound, match="globex.*no active version"):
        env.registry.resolve("globex", parse_workflow_ref("alpha::main", "globex"))
    with pytest.raises(PackageNotFound, match="belongs to tenant 'acme'"):
        env.registry.resolve("globex", parse_workflow_ref("acme::alpha::main"))
    with pytest.raises(PackageNotFound, match="no workflow 'nope' .*it has: main"):
        env.registry.resolve("acme", parse_workflow_ref("alpha::nope", "acme"))


def test_pinned_versions_unregister_rollback_and_purge(env: Env, built: dict[str, Path]) -> None:
    env.tenant("acme")
    v1 = env.registry.register(built["alpha1"], "acme")
    v2 = env.registry.register(built["alpha2"], "acme")
    assert env.registry.resolve("acme", parse_workflow_ref("alpha::main", "acme"))[0].version == "2.0.0"
    assert env.registry.resolve("acme", parse_workflow_ref("alpha@1.0::main", "acme"))[0].id == v1.id
    retired = env.registry.unregister("acme", "alpha")
    assert retired.id == v2.id and retired.state == "retired"
    with pytest.raises(PackageNotFound, match="no active version"):
        env.registry.resolve("acme", parse_workflow_ref("alpha::main", "acme"))
    with pytest.raises(VersionConflict, match="was unregistered"):
        env.registry.register(built["alpha2"], "acme")
    assert env.registry.activate("acme", "alpha", "1.0.0").state == "active"
    assert v2.install_dir.is_dir()
    with pytest.raises(VersionConflict, match="not retired"):
        env.registry.purge(v1.id)
    env.registry.purge(v2.id)
    assert not v2.install_dir.exists() and v1.install_dir.is_dir()


def test_hooks_hear_registrations(env: Env, built: dict[str, Path]) -> None:
    heard: list[tuple[str, str, str, str]] = []

    class Audit:
        @hookimpl
        def wfhost_package_registered(self, tenant: str, package: str, version: str) -> None:
            heard.append(("registered", tenant, package, version))

        @hookimpl
        def wfhost_package_unregistered(self, tenant: str, package: str, version: str) -> None:
            heard.append(("unregistered", tenant, package, version))

    pm = extension_manager(load_entry_points=False)
    pm.register(Audit())
    env.registry.hooks = pm
    env.tenant("acme")
    env.registry.register(built["alpha1"], "acme")
    env.registry.unregister("acme", "alpha", "1.0.0")
    assert heard == [("registered", "acme", "alpha", "1.0.0"), ("unregistered", "acme", "alpha", "1.0.0")]
