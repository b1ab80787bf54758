"""The schemas of `manifest.toml` and `metadata.json` (pydantic v2): what each document may hold.

`wfpkg.manifest.Manifest.from_bytes` and `Metadata.from_bytes` validate
against them, so that every problem is reported at once, each naming its
field. Types are strict: a string where a number belongs is an error, not a
conversion. Imported only when a document is validated (a worker process,
handed an already verified manifest, never needs pydantic).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any, Literal

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .dag import dag_problems
from .errors import InvalidName
from .names import check_name, check_version

__all__ = [
    "FileSchema",
    "ManifestSchema",
    "MetadataSchema",
    "PackageSchema",
    "TaskSchema",
    "WorkflowSchema",
    "problem_text",
]


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
    #: Declared input fields and a line about each (`Workflow(inputs=...)`), shown to operators.
    inputs: dict[str, str] | None = None

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


def problem_text(exc: ValidationError, extra_word: str) -> str:
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
