"""`wfpkg build`: turn an author's project into a signed, reproducible `.wfpkg`.

The steps, in order: read ``pyproject.toml``; copy the source into a temp
folder (the author's tree is never written to); build the package's wheel
and its dependencies' wheels with pip; load the built wheel in a separate
interpreter to collect its workflows' static DAGs; write ``metadata.json``
and the manifest; sign; write the archive atomically; verify it with the
signer's public key. The same source (same files, same mtimes, or the same
``SOURCE_DATE_EPOCH``) gives a byte-identical archive.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name

from .archive import MANIFEST, METADATA, SIGNATURE, verify_archive, write_archive
from .errors import ArchiveError, BuildError, InvalidName, ManifestError
from .keys import key_id, signature_bytes
from .manifest import FileEntry, Manifest, Metadata
from .names import check_name, check_version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

__all__ = ["DEFAULT_SDK", "Project", "build_package", "read_project", "source_files"]

DEFAULT_SDK: Final = ">=0.1,<0.2"
SDK_DISTRIBUTIONS: Final = frozenset({"wfhost", "wfpkg"})
_EXCLUDED_DIRS: Final = frozenset({"dist", "build", "__pycache__", ".git", ".venv", ".tox",
                                   ".mypy_cache", ".pytest_cache", ".ruff_cache"})
_MIN_EPOCH: Final = 315532800  # 1980-01-01, the earliest time a zip can hold

Progress = Callable[[str], None]


class Project:
    """What `build_package` needs from ``pyproject.toml``, checked.

    Attributes:
        name, version: the package name (a valid wfhost name) and normalized version.
        requires_python, sdk: version specifiers.
        dependencies: requirements other than the SDK.
        entry_points: group ``wfhost`` entry points, name -> ``module[:attr]``.
        author, description: for ``metadata.json``.
    """

    def __init__(self, src: Path) -> None:
        path = src / "pyproject.toml"
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise BuildError(f"{path} not found: is {src} a wfpkg project? (`wfpkg init` makes one)") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise BuildError(f"{path}: cannot read it: {exc}") from None
        problems: list[str] = []
        project = doc.get("project") or {}
        tool = (doc.get("tool") or {}).get("wfpkg") or {}
        self.dist_name = str(project.get("name", ""))
        try:
            self.name = check_name(self.dist_name, "package name")
        except InvalidName as exc:
            problems.append(f"[project] name: {exc}")
            self.name = self.dist_name
        try:
            self.version = check_version(project.get("version"), "package version")
        except InvalidName as exc:
            problems.append(f"[project] version: {exc} (a static version is required)")
            self.version = ""
        self.requires_python = str(project.get("requires-python", ">=3.10"))
        self.sdk = str(tool.get("sdk", DEFAULT_SDK))
        for key, value in (("[project] requires-python", self.requires_python), ("[tool.wfpkg] sdk", self.sdk)):
            try:
                SpecifierSet(value)
            except InvalidSpecifier:
                problems.append(f"{key} {value!r} is not a version specifier")
        self.dependencies: list[str] = []
        for dep in project.get("dependencies", []):
            try:
                req = Requirement(dep)
            except InvalidRequirement as exc:
                problems.append(f"[project] dependencies: {dep!r}: {exc}")
                continue
            if canonicalize_name(req.name) not in SDK_DISTRIBUTIONS:
                self.dependencies.append(dep)
        self.entry_points: dict[str, str] = dict(
            (project.get("entry-points") or {}).get("wfhost") or {})
        if not self.entry_points:
            problems.append("no [project.entry-points.wfhost] table: add one naming the module "
                            "that implements wfhost_workflows")
        authors = project.get("authors") or []
        first = authors[0] if authors and isinstance(authors[0], dict) else {}
        self.author = str(tool.get("author") or first.get("name") or first.get("email") or "")
        self.description = str(project.get("description", ""))
        if problems:
            raise BuildError(f"{path}: " + "; ".join(problems))


def read_project(src: Path) -> Project:
    """Read and check ``src/pyproject.toml``; raise `BuildError` listing every problem."""
    return Project(Path(src))


def source_files(src: Path) -> list[Path]:
    """The project's source files, relative and sorted (no dist/, build/, caches, *.egg-info)."""

    def walk(folder: Path) -> Iterator[Path]:
        for entry in sorted(folder.iterdir()):
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name in _EXCLUDED_DIRS or entry.name.endswith(".egg-info"):
                    continue
                yield from walk(entry)
            elif entry.is_file() and not entry.name.endswith((".pyc", ".pyo", ".wfpkg")):
                yield entry.relative_to(src)

    return sorted(walk(src), key=lambda p: p.as_posix())


def _fingerprint(src: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for rel in files:
        data = (src / rel).read_bytes()
        for part in (rel.as_posix().encode("utf-8"), data):
            digest.update(len(part).to_bytes(8, "big"))
            digest.update(part)
    return digest.hexdigest()


def _build_epoch(src: Path, files: list[Path]) -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        try:
            return max(_MIN_EPOCH, int(env))
        except ValueError:
            raise BuildError(f"SOURCE_DATE_EPOCH {env!r} is not an integer") from None
    newest = max((int((src / f).stat().st_mtime) for f in files), default=_MIN_EPOCH)
    return max(_MIN_EPOCH, newest)


def _run(cmd: list[str], what: str, env: dict[str, str], cwd: Path | None = None) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, check=False)
    if proc.returncode != 0:
        tail = [ln for ln in (proc.stderr + proc.stdout).splitlines() if ln.strip()][-3:]
        raise BuildError(f"{what} failed: " + " | ".join(tail))
    return proc.stdout


def _pip_wheel(args: list[str], out: Path, what: str, env: dict[str, str]) -> None:
    cmd = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
           "--no-input", "-q", "-w", str(out), *args]
    _run(cmd, what, env)


def _introspect(project: Project, wheels: list[Path], work: Path, env: dict[str, str]) -> Any:
    site = work / "site"
    site.mkdir()
    cmd = [sys.executable, "-I", "-m", "wfpkg._introspect", project.dist_name, str(site),
           *map(str, wheels)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, check=False)
    lines = proc.stdout.strip().splitlines()
    try:
        result = json.loads(lines[-1]) if lines else {}
    except ValueError:
        result = {}
    if "error" in result:
        raise BuildError(f"{project.name}: {result['error']}")
    if proc.returncode != 0 or "workflows" not in result:
        tail = [ln for ln in proc.stderr.splitlines() if ln.strip()][-1:]
        raise BuildError(f"{project.name}: loading the built package failed: {' '.join(tail)}")
    return result


def build_package(
    src: Path,
    key: Ed25519PrivateKey,
    out_dir: Path | None = None,
    progress: Progress | None = None,
) -> Path:
    """Build, sign and verify ``src`` as ``NAME-VERSION.wfpkg``.

    Args:
        src: the project folder (holding ``pyproject.toml``); it is never written to.
        key: the signing key.
        out_dir: where to write the archive; default ``src/dist``.
        progress: called with a short message as each step starts.

    Returns:
        The path of the written archive.

    Raises:
        BuildError: the project is malformed, a wheel does not build, or its
            workflows do not load or are declared wrongly (names the task).
    """
    say = progress or (lambda _msg: None)
    src = Path(src).resolve()
    if not src.is_dir():
        raise BuildError(f"{src} is not a folder")
    project = read_project(src)
    files = source_files(src)
    epoch = _build_epoch(src, files)
    fingerprint = _fingerprint(src, files)
    build_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch), "PYTHONHASHSEED": "0",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.pop("PYTHONPATH", None)
    out_dir = Path(out_dir) if out_dir is not None else src / "dist"
    with tempfile.TemporaryDirectory(prefix="wfpkg-build-") as tmp:
        work = Path(tmp)
        copy = work / "src" / src.name
        for rel in files:
            (copy / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src / rel, copy / rel)
        wheel_dir = work / "wheels"
        say(f"building the wheel of {project.name} {project.version}")
        _pip_wheel(["--no-build-isolation", str(copy)], wheel_dir, f"building the wheel of {project.name}", env)
        own = sorted(wheel_dir.glob("*.whl"))
        if len(own) != 1:
            raise BuildError(f"building {project.name} produced {len(own)} wheels, expected 1")
        for dep in project.dependencies:
            say(f"building the wheel of dependency {dep}")
            _pip_wheel([dep], wheel_dir, f"building a wheel for dependency {dep!r}", env)
        wheels = sorted(wheel_dir.glob("*.whl"))
        say("loading the workflows in a fresh interpreter")
        found = _introspect(project, own, work, env)
        members: dict[str, bytes] = {f"wheels/{w.name}": w.read_bytes() for w in wheels}
    say("writing and signing the manifest")
    metadata = Metadata(
        name=project.name,
        version=project.version,
        builder=f"wfpkg {_sdk_version()}",
        build_time=build_time,
        source_fingerprint=fingerprint,
        author=project.author,
        description=project.description,
    )
    members[METADATA] = metadata.to_bytes()
    manifest = Manifest(
        name=project.name,
        version=project.version,
        requires_python=project.requires_python,
        sdk=project.sdk,
        build_time=build_time,
        key_id=key_id(key.public_key()),
        entry_points=project.entry_points,
        workflows=found["workflows"],
        files=[FileEntry(n, len(b), hashlib.sha256(b).hexdigest()) for n, b in sorted(members.items())],
    )
    manifest_bytes = manifest.to_bytes()
    try:
        Manifest.from_bytes(manifest_bytes)
    except ManifestError as exc:
        raise BuildError(f"{project.name}: the manifest would be invalid: {exc}") from None
    members[MANIFEST] = manifest_bytes
    members[SIGNATURE] = signature_bytes(key, manifest_bytes)
    out = out_dir / f"{project.name}-{project.version}.wfpkg"
    write_archive(out, members, time.gmtime(epoch)[:6])
    say("verifying the archive")
    pub = key.public_key()
    try:
        verify_archive(out, {key_id(pub): pub})
    except ArchiveError as exc:
        out.unlink(missing_ok=True)
        raise BuildError(f"the written archive does not verify: {exc}") from None
    return out


def _sdk_version() -> str:
    from . import __version__

    return __version__
