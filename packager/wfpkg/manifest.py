"""`manifest.toml` and `metadata.json`: the documents inside a `.wfpkg`.

The manifest is what is signed. It names the package, binds its version, the
SDK range it needs, the build time, the signer's key id, every workflow's
static DAG, and the path, size and SHA-256 of every other member. See
``docs/package-format.md`` for the normative description.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import tomli_w
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .dag import dag_problems
from .errors import InvalidName, ManifestError
from .names import check_name, check_version

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10
    import tomli as tomllib

__all__ = [
    "FORMAT_VERSION",
    "FileEntry",
    "FileSchema",
    "Manifest",
    "ManifestSchema",
    "Metadata",
    "MetadataSchema",
    "PackageSchema",
    "TaskSchema",
    "WorkflowSchema",
]

FORMAT_VERSION = 1


# -- schemas: what the documents may hold, checked all at once ---------------------------


def _named(what: str, check: Callable[[object, str], str]) -> Callable[[str], str]:
    def validate(value: str) -> str:
        try:
            return check(value, what)
        except InvalidName as exc:
            raise ValueError(str(exc)) from None

    return validate


def _specifier(value: str) -> str:
    try:
        SpecifierSet(value)
    except InvalidSpecifier:
        raise ValueError(f"{value!r} is not a version specifier") from None
    return value


class _Doc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PackageSchema(_Doc):
    """``[package]``: the package's identity and what it needs."""

    name: Annotated[str, AfterValidator(_named("package name", check_name))]
    version: Annotated[str, AfterValidator(_named("package version", check_version))]
    requires_python: Annotated[str, AfterValidator(_specifier)]
    sdk: Annotated[str, AfterValidator(_specifier)]
    build_time: str
    key_id: str


class TaskSchema(_Doc):
    """One task of a workflow's static DAG (further keys, such as ``retry``'s, are kept as written)."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    id: str
    depends_on: list[str]
    trigger: Literal["all_success", "all_done", "any_failed", "none_failed"]
    retry: dict[str, Any]
    timeout: float | None = None


class WorkflowSchema(_Doc):
    """One workflow's static DAG: its tasks in declaration order."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)

    name: Annotated[str, AfterValidator(_named("workflow name", check_name))]
    tasks: list[TaskSchema]

    @model_validator(mode="after")
    def _dag(self) -> WorkflowSchema:
        deps: dict[str, list[str]] = {}
        problems: list[str] = []
        for task in self.tasks:
            if task.id in deps:
                problems.append(f"task {task.id!r} appears twice")
            deps[task.id] = list(task.depends_on)
        problems.extend(dag_problems(self.name, deps))
        if problems:
            raise ValueError("; ".join(problems))
        return self


class FileSchema(_Doc):
    """One member the manifest vouches for."""

    path: Annotated[str, Field(min_length=1)]
    size: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern="^[0-9a-f]{64}$")]


class ManifestSchema(_Doc):
    """``manifest.toml``, the signed document (see ``docs/package-format.md``)."""

    format: Literal[1]
    package: PackageSchema
    entry_points: Annotated[dict[str, Annotated[str, Field(min_length=1)]], Field(min_length=1)]
    workflows: Annotated[list[WorkflowSchema], Field(min_length=1)]
    files: list[FileSchema]

    @field_validator("workflows")
    @classmethod
    def _one_workflow_per_name(cls, workflows: list[WorkflowSchema]) -> list[WorkflowSchema]:
        names = [w.name for w in workflows]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError("; ".join(f"workflow {n!r} appears twice" for n in twice))
        return workflows

    @field_validator("files")
    @classmethod
    def _one_entry_per_file(cls, files: list[FileSchema]) -> list[FileSchema]:
        paths = [f.path for f in files]
        twice = sorted({p for p in paths if paths.count(p) > 1})
        if twice:
            raise ValueError("; ".join(f"file {p!r} is listed twice" for p in twice))
        return files


class MetadataSchema(_Doc):
    """``metadata.json``: build facts."""

    name: str
    version: str
    builder: str
    build_time: str
    source_fingerprint: str
    author: str = ""
    description: str = ""


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _problems(exc: ValidationError, extra_word: str) -> str:
    """Every problem of a validation, one clause each, naming the field."""
    problems: list[str] = []
    unknown: dict[str, list[str]] = {}
    for error in exc.errors():
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind == "extra_forbidden":
            unknown.setdefault(_where(loc[:-1]), []).append(str(loc[-1]))
            continue
        if kind == "missing":
            problems.append(f"{_where(loc[:-1]) or 'top level'}: missing {loc[-1]!r}")
            continue
        message = str(error["msg"]).removeprefix("Value error, ")
        if kind == "string_pattern_mismatch" and loc and loc[-1] == "sha256":
            message = "sha256 is not 64 lowercase hex digits"
        problems.append(f"{_where(loc)}: {message}" if loc else message)
    for where, keys in unknown.items():
        what = f"unknown {extra_word} {sorted(keys)}"
        problems.append(f"{where}: {what}" if where else what)
    return "; ".join(problems)


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
        """Validate a parsed manifest against `ManifestSchema`; see `from_bytes`."""
        if doc.get("format") != FORMAT_VERSION:
            raise ManifestError(
                f"manifest.toml: format {doc.get('format')!r} is not supported (this SDK reads {FORMAT_VERSION})"
            )
        try:
            checked = ManifestSchema.model_validate(doc)
        except ValidationError as exc:
            raise ManifestError("manifest.toml: " + _problems(exc, "keys")) from None
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
        try:
            checked = MetadataSchema.model_validate(doc)
        except ValidationError as exc:
            raise ManifestError("metadata.json: " + _problems(exc, "fields")) from None
        return cls(**checked.model_dump())

    def check_against(self, manifest: Manifest) -> None:
        """Raise `ManifestError` unless name, version and build time agree with the manifest."""
        for key in ("name", "version", "build_time"):
            if getattr(self, key) != getattr(manifest, key):
                raise ManifestError(
                    f"metadata.json: {key} {getattr(self, key)!r} disagrees with manifest.toml "
                    f"({getattr(manifest, key)!r})"
                )
