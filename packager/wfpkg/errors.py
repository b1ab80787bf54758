"""Errors raised by the authoring SDK and the package format.

The tree::

    WfpkgError                      every error this package raises
    ├── DefinitionError             a workflow declared wrongly (lists every problem)
    ├── InvalidName                 a name that is not a valid tenant/package/workflow/task/id
    ├── ManifestError               manifest.toml or metadata.json malformed or inconsistent
    ├── ArchiveError                a .wfpkg rejected (names the member and the reason)
    │   └── SignatureError          bad, missing or untrusted signature
    ├── BuildError                  `wfpkg build` could not produce an archive
    ├── TaskError                   raised by task code to fail its task
    │   └── FatalTaskError          ... and never retry it
    ├── WaitTimeout                 a durable wait's timeout fired first
    ├── ChildWorkflowError          a child workflow failed or was cancelled
    ├── ExecutionNotFound           signal/cancel sent to an unknown execution
    ├── ExecutionFinished           signal sent to an execution that already finished
    └── NonDeterminismError         task code took another path on replay than its journal

    Cancelled (BaseException)       the execution was cancelled; raised at the next durable call

`Cancelled` derives from `BaseException` so that a task's ``except Exception``
cannot swallow it.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "ArchiveError",
    "BuildError",
    "Cancelled",
    "ChildWorkflowError",
    "DefinitionError",
    "ExecutionFinished",
    "ExecutionNotFound",
    "FatalTaskError",
    "InvalidName",
    "ManifestError",
    "NonDeterminismError",
    "SignatureError",
    "TaskError",
    "WaitTimeout",
    "WfpkgError",
]


class WfpkgError(Exception):
    """Base of every error raised by `wfpkg`."""


class DefinitionError(WfpkgError):
    """A workflow or task was declared wrongly.

    Attributes:
        problems: every problem found, each naming the workflow and task.
    """

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))


class InvalidName(WfpkgError):
    """A tenant, package, workflow, task or execution name is not valid."""


class ManifestError(WfpkgError):
    """`manifest.toml` or `metadata.json` is malformed or inconsistent."""


class ArchiveError(WfpkgError):
    """A `.wfpkg` archive was rejected.

    Attributes:
        member: the archive member at fault, or ``None`` for the archive itself.
        reason: what is wrong with it.
    """

    def __init__(self, reason: str, member: str | None = None, *, archive: str | None = None) -> None:
        self.member = member
        self.reason = reason
        self.archive = archive
        where = f"{archive}: " if archive else ""
        what = f"member {member!r}: " if member is not None else ""
        super().__init__(f"{where}{what}{reason}")


class SignatureError(ArchiveError):
    """The signature is missing, malformed, made by another key, or not trusted."""


class BuildError(WfpkgError):
    """`wfpkg build` could not produce an archive."""


class TaskError(WfpkgError):
    """Raised by task code to fail its task; retried according to the task's policy."""


class FatalTaskError(TaskError):
    """Raised by task code to fail its task without any retry."""


class WaitTimeout(WfpkgError):
    """A durable wait ended because its timeout fired first."""


class ChildWorkflowError(WfpkgError):
    """A child workflow failed or was cancelled.

    Attributes:
        child_id: the child's execution id.
        status: ``"failed"`` or ``"cancelled"``.
        error: the child's error message.
    """

    def __init__(self, child_id: str, status: str, error: str | None) -> None:
        self.child_id = child_id
        self.status = status
        self.error = error
        super().__init__(f"child execution {child_id!r} {status}: {error or 'no error recorded'}")


class ExecutionNotFound(WfpkgError):
    """A signal or cancellation named an execution that does not exist for this tenant."""


class ExecutionFinished(WfpkgError):
    """A signal was sent to an execution that has already finished."""


class NonDeterminismError(WfpkgError):
    """Task code made a different durable call on replay than the one its journal records."""


class Cancelled(BaseException):  # noqa: N818 - named for what happened, like asyncio.CancelledError
    """The execution was cancelled; raised at the task's next durable call."""
