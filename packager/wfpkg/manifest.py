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

from .errors import ManifestError

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
    def from_verified_bytes(cls, data: bytes) -> Manifest:
        """Build from bytes that were already verified and validated (by the host, at registration).

        A worker process uses this for the manifest its host sends it: no schema
        check, so the worker starts without importing pydantic.
        """
        doc = tomllib.loads(data.decode("utf-8"))
        pkg = doc["package"]
        return cls(
            name=pkg["name"], version=pkg["version"], requires_python=pkg["requires_python"],
            sdk=pkg["sdk"], build_time=pkg["build_time"], key_id=pkg["key_id"],
            entry_points=dict(doc["entry_points"]), workflows=list(doc["workflows"]),
            files=[FileEntry(f["path"], f["size"], f["sha256"]) for f in doc["files"]],
        )

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Manifest:
        """Validate a parsed manifest against `wfpkg.schema.ManifestSchema`; see `from_bytes`."""
        from pydantic import ValidationError

        from .schema import ManifestSchema, problem_text

        if doc.get("format") != FORMAT_VERSION:
            raise ManifestError(
                f"manifest.toml: format {doc.get('format')!r} is not supported (this SDK reads {FORMAT_VERSION})"
            )
        try:
            checked = ManifestSchema.model_validate(doc)
        except ValidationError as exc:
            raise ManifestError("manifest.toml: " + problem_text(exc, "keys")) from None
        pkg = checked.package
        return cls(
            name=pkg.name,
            version=pkg.version,
            requires_python=pkg.requires_python,
            sdk=pkg.sdk,
            build_time=pkg.build_time,
            key_id=pkg.key_id,
            entry_points=dict(checked.entry_points),
            workflows=list(doc["workflows"]),
            files=[FileEntry(f.path, f.size, f.sha256) for f in checked.files],
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
        from pydantic import ValidationError

        from .schema import MetadataSchema, problem_text

        try:
            checked = MetadataSchema.model_validate(doc)
        except ValidationError as exc:
            raise ManifestError("metadata.json: " + problem_text(exc, "fields")) from None
        return cls(**checked.model_dump())

    def check_against(self, manifest: Manifest) -> None:
        """Raise `ManifestError` unless name, version and build time agree with the manifest."""
        for key in ("name", "version", "build_time"):
            if getattr(self, key) != getattr(manifest, key):
                raise ManifestError(
                    f"metadata.json: {key} {getattr(self, key)!r} disagrees with manifest.toml "
                    f"({getattr(manifest, key)!r})"
                )
