"""Names: the one place where tenant, package, workflow, task and execution names are checked.

A fully qualified task is ``tenant::package::workflow::task``. Within a tenant,
``package::workflow`` names the active version of a package and
``package@version::workflow`` pins one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from .errors import InvalidName

__all__ = [
    "SEPARATOR",
    "WorkflowRef",
    "check_execution_id",
    "check_name",
    "check_version",
    "parse_workflow_ref",
]

SEPARATOR = "::"
_NAME = re.compile(r"[a-z][a-z0-9_]{0,62}")
_EXECUTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}")


def check_name(value: object, what: str = "name") -> str:
    """Return ``value`` if it is a valid tenant, package, workflow or task name.

    A name is 1-63 characters: a lowercase letter, then lowercase letters,
    digits and underscores.

    Raises:
        InvalidName: naming ``what`` and the offending value.
    """
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidName(
            f"invalid {what} {value!r}: use 1-63 characters, a lowercase letter first, "
            "then lowercase letters, digits or '_'"
        )
    return value


def check_execution_id(value: object) -> str:
    """Return ``value`` if it is a valid execution id (letters, digits, ``_.-``; max 128)."""
    if not isinstance(value, str) or not _EXECUTION_ID.fullmatch(value):
        raise InvalidName(
            f"invalid execution id {value!r}: use 1-128 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit"
        )
    return value


def check_version(value: object, what: str = "version") -> str:
    """Return the normalized form of a PEP 440 version string."""
    if not isinstance(value, str):
        raise InvalidName(f"invalid {what} {value!r}: not a string")
    try:
        return str(Version(value))
    except InvalidVersion:
        raise InvalidName(f"invalid {what} {value!r}: not a PEP 440 version") from None


@dataclass(frozen=True)
class WorkflowRef:
    """A workflow (optionally a task) named within a tenant.

    Attributes:
        tenant: the tenant that owns the package.
        package: the package name.
        workflow: the workflow name.
        version: a pinned package version, or ``None`` for the active one.
        task: a task id, when the name points at one task.
    """

    tenant: str
    package: str
    workflow: str
    version: str | None = None
    task: str | None = None

    def __str__(self) -> str:
        pkg = f"{self.package}@{self.version}" if self.version else self.package
        parts = [self.tenant, pkg, self.workflow] + ([self.task] if self.task else [])
        return SEPARATOR.join(parts)

    @property
    def local(self) -> str:
        """The name without the tenant: ``package[@version]::workflow``."""
        pkg = f"{self.package}@{self.version}" if self.version else self.package
        return f"{pkg}{SEPARATOR}{self.workflow}"


def parse_workflow_ref(text: str, tenant: str | None = None, *, allow_task: bool = False) -> WorkflowRef:
    """Parse a workflow name as a user writes it.

    Accepted forms: ``package::workflow``, ``package@1.2::workflow``,
    ``tenant::package::workflow`` and, with ``allow_task``,
    ``tenant::package::workflow::task``.

    Args:
        text: the name.
        tenant: the tenant the caller acts for. A name that names another
            tenant is refused: a tenant sees only its own names.
        allow_task: accept a trailing task id.

    Raises:
        InvalidName: the name is malformed, names no tenant where one is
            needed, or names another tenant.
    """
    if not isinstance(text, str):
        raise InvalidName(f"invalid workflow name {text!r}: not a string")
    parts = text.split(SEPARATOR)
    task: str | None = None
    if allow_task and len(parts) == 4:
        task = check_name(parts.pop(), "task id")
    if len(parts) == 2:
        if tenant is None:
            raise InvalidName(f"workflow name {text!r} names no tenant: write tenant::package::workflow")
        owner = tenant
    elif len(parts) == 3:
        owner = parts.pop(0)
    else:
        raise InvalidName(
            f"invalid workflow name {text!r}: expected [tenant::]package[@version]::workflow"
        )
    check_name(owner, "tenant")
    if tenant is not None and owner != tenant:
        raise InvalidName(f"workflow name {text!r} belongs to tenant {owner!r}, not {tenant!r}")
    package, _, version = parts[0].partition("@")
    check_name(package, "package name")
    pinned = check_version(version, "package version") if version else None
    if parts[0].endswith("@"):
        raise InvalidName(f"invalid workflow name {text!r}: empty version after '@'")
    return WorkflowRef(owner, package, check_name(parts[1], "workflow name"), pinned, task)
