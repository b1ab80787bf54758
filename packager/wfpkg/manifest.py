"""`manifest.toml` and `metadata.json`: the documents inside a `.wfpkg`.

The manifest is what is signed. It names the package, binds its version, the
SDK range it needs, the build time, the signer's key id, every workflow's
static DAG, and the path, size and SHA-256 of every other member. See
``docs/package-format.md`` for the normative description.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import tomli_w
from packaging.specifiers import InvalidSpecifier, SpecifierSet

from .dag import dag_problems
from .errors import InvalidName, ManifestError
from .names import check_name, check_version
from .workflow import TriggerRule

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

__all__ = [
    "FORMAT_VERSION",
    "FileEntry",
    "Manifest",
    "Metadata",
]

FORMAT_VERSION = 1
_HEX = set("0123456789abcdef")


@dataclass(frozen=True)
class FileEntry:
    """One archive member the manifest vouches for."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """The signed description of a package.

    Attributes:
        name: the package name (also the namespace segment).
        version: its PEP 440 version, normalized.
        requires_python: a specifier set for the Python it needs.
        sdk: a specifier set for the `wfpkg` SDK version it needs.
        build_time: ISO 8601 UTC build time.
        key_id: the signer's key id.
        entry_points: entry point names of group ``wfhost`` -> ``module[:attr]``.
        workflows: each workflow's static DAG as `Workflow.to_dict` makes it.
        files: every other member, sorted by path.
    """

    name: str
    version: str
    requires_python: str
    sdk: str
    build_time: str
    key_id: str
    entry_points: dict[str, str]
    workflows: list[dict[str, Any]]
    files: list[FileEntry] = field(default_factory=list)
    format: int = FORMAT_VERSION

    def workflow(self, name: str) -> dict[str, Any] | None:
        """The named workflow's DAG, or ``None``."""
        return next((w for w in self.workflows if w["name"] == name), None)

    def to_dict(self) -> dict[str, Any]:
        """The manifest as a TOML-ready mapping."""
        return {
            "format": self.format,
            "package": {
                "name": self.name,
                "version": self.version,
                "requires_python": self.requires_python,
                "sdk": self.sdk,
                "build_time": self.build_time,
                "key_id": self.key_id,
            },
            "entry_points": dict(sorted(self.entry_points.items())),
            "workflows": self.workflows,
            "files": [{"path": f.path, "size": f.size, "sha256": f.sha256} for f in self.files],
        }

    def to_bytes(self) -> bytes:
        """The exact bytes of ``manifest.toml`` (UTF-8 TOML, deterministic)."""
        return tomli_w.dumps(self.to_dict()).encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Manifest:
        """Parse and validate ``manifest.toml``; every problem is reported at once.

        Raises:
            ManifestError: listing every problem found.
        """
        try:
            doc = tomllib.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ManifestError(f"manifest.toml is not valid UTF-8 TOML: {exc}") from None
        return cls.from_dict(doc)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Manifest:
        """Validate a parsed manifest; see `from_bytes`."""
        problems: list[str] = []

        def need(mapping: Any, key: str, kind: type | tuple[type, ...], where: str) -> Any:
            if not isinstance(mapping, Mapping) or key not in mapping:
                problems.append(f"{where}: missing {key!r}")
                return None
            value = mapping[key]
            if not isinstance(value, kind) or isinstance(value, bool) and kind is int:
                problems.append(f"{where}: {key!r} has the wrong type")
                return None
            return value

        if doc.get("format") != FORMAT_VERSION:
            raise ManifestError(
                f"manifest.toml: format {doc.get('format')!r} is not supported (this SDK reads {FORMAT_VERSION})"
            )
        unknown = set(doc) - {"format", "package", "entry_points", "workflows", "files"}
        if unknown:
            problems.append(f"manifest.toml: unknown keys {sorted(unknown)}")
        pkg = need(doc, "package", dict, "manifest.toml") or {}
        fields = {k: need(pkg, k, str, "[package]") for k in
                  ("name", "version", "requires_python", "sdk", "build_time", "key_id")}
        for key, check in (("name", lambda v: check_name(v, "package name")),
                           ("version", lambda v: check_version(v, "package version"))):
            if fields[key] is not None:
                try:
                    fields[key] = check(fields[key])
                except InvalidName as exc:
                    problems.append(f"[package]: {exc}")
        for key in ("requires_python", "sdk"):
            if fields[key] is not None:
                try:
                    SpecifierSet(fields[key])
                except InvalidSpecifier:
                    problems.append(f"[package]: {key} {fields[key]!r} is not a version specifier")
        entry_points = need(doc, "entry_points", dict, "manifest.toml") or {}
        if not entry_points:
            problems.append("manifest.toml: no entry points")
        for ep_name, target in entry_points.items():
            if not isinstance(target, str) or not target:
                problems.append(f"[entry_points]: {ep_name!r} has no target")
        workflows = need(doc, "workflows", list, "manifest.toml") or []
        names: set[str] = set()
        for i, wf in enumerate(workflows):
            where = f"workflows[{i}]"
            wname = need(wf, "name", str, where)
            tasks = need(wf, "tasks", list, where) or []
            if wname is not None:
                try:
                    check_name(wname, "workflow name")
                except InvalidName as exc:
                    problems.append(f"{where}: {exc}")
                if wname in names:
                    problems.append(f"{where}: workflow {wname!r} appears twice")
                names.add(wname)
            deps: dict[str, list[str]] = {}
            for j, task in enumerate(tasks):
                twhere = f"{where}.tasks[{j}]"
                tid = need(task, "id", str, twhere)
                dep = need(task, "depends_on", list, twhere)
                trigger = need(task, "trigger", str, twhere)
                need(task, "retry", dict, twhere)
                if trigger is not None and trigger not in {r.value for r in TriggerRule}:
                    problems.append(f"{twhere}: unknown trigger {trigger!r}")
                if tid is not None:
                    if tid in deps:
                        problems.append(f"{twhere}: task {tid!r} appears twice")
                    deps[tid] = [d for d in (dep or []) if isinstance(d, str)]
            if wname is not None:
                problems.extend(dag_problems(wname, deps))
        if not workflows:
            problems.append("manifest.toml: no workflows")
        files: list[FileEntry] = []
        for i, entry in enumerate(need(doc, "files", list, "manifest.toml") or []):
            where = f"files[{i}]"
            path, size, digest = (need(entry, "path", str, where), need(entry, "size", int, where),
                                  need(entry, "sha256", str, where))
            if digest is not None and (len(digest) != 64 or not set(digest) <= _HEX):
                problems.append(f"{where}: sha256 of {path!r} is not 64 lowercase hex digits")
            if size is not None and size < 0:
                problems.append(f"{where}: negative size for {path!r}")
            if None not in (path, size, digest):
                files.append(FileEntry(path, size, digest))
        paths = [f.path for f in files]
        if len(set(paths)) != len(paths):
            problems.append("manifest.toml: a file is listed twice")
        if problems:
            raise ManifestError("manifest.toml: " + "; ".join(problems))
        return cls(
            name=fields["name"],
            version=fields["version"],
            requires_python=fields["requires_python"],
            sdk=fields["sdk"],
            build_time=fields["build_time"],
            key_id=fields["key_id"],
            entry_points=dict(entry_points),
            workflows=list(workflows),
            files=files,
        )


@dataclass(frozen=True)
class Metadata:
    """Build facts kept in ``metadata.json`` (not signed itself, but hashed by the manifest)."""

    name: str
    version: str
    builder: str
    build_time: str
    source_fingerprint: str
    author: str = ""
    description: str = ""

    def to_bytes(self) -> bytes:
        """Deterministic JSON bytes."""
        return (json.dumps(self.__dict__, sort_keys=True, indent=2) + "\n").encode("utf-8")

    @classmethod
    def from_bytes(cls, data: bytes) -> Metadata:
        """Parse ``metadata.json``.

        Raises:
            ManifestError: not JSON, or fields missing or of the wrong type.
        """
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise ManifestError(f"metadata.json is not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise ManifestError("metadata.json: not a JSON object")
        required = ("name", "version", "builder", "build_time", "source_fingerprint")
        missing = [k for k in required if not isinstance(doc.get(k), str)]
        if missing:
            raise ManifestError(f"metadata.json: missing or non-string fields {missing}")
        extra = set(doc) - set(cls.__dataclass_fields__)
        if extra:
            raise ManifestError(f"metadata.json: unknown fields {sorted(extra)}")
        return cls(**{k: str(v) for k, v in doc.items()})

    def check_against(self, manifest: Manifest) -> None:
        """Raise `ManifestError` unless name, version and build time agree with the manifest."""
        for key in ("name", "version", "build_time"):
            if getattr(self, key) != getattr(manifest, key):
                raise ManifestError(
                    f"metadata.json: {key} {getattr(self, key)!r} disagrees with manifest.toml "
                    f"({getattr(manifest, key)!r})"
                )
