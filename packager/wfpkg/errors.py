"""Errors: the one root every error of wfpkg, wfregistry and wfhost derives from.

Every class has a stable ``code``: an error crosses a seam (host to worker to
task code, journal to replay) as an `ErrorInfo` ``(code, message, detail)``
and is rebuilt here, by code, into the class registered for it
(`error_from_info`). A code never changes once released.

The tree::

    WfpkgError                      the root: every error wfpkg, wfregistry and wfhost raise
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
    ├── NonDeterminismError         task code took another path on replay than its journal
    ├── ProtocolError               a message across a seam that does not fit `wfpkg.protocol`
    ├── InvalidPayload              a signal payload does not fit the type the task asked for
    ├── Timeout                     a client's wait for an execution gave up (also a TimeoutError)
    ├── wfregistry.RegistryError    trust, registration and loading (tree in wfregistry.errors)
    └── wfhost.HostError            the host's answers to callers (tree in wfhost.errors)

    Cancelled (BaseException)       the execution was cancelled; raised at the next durable call

`Cancelled` derives from `BaseException` so that a task's ``except Exception``
cannot swallow it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = [
    "ArchiveError",
    "BuildError",
    "Cancelled",
    "ChildWorkflowError",
    "DefinitionError",
    "ErrorInfo",
    "ExecutionFinished",
    "ExecutionNotFound",
    "FatalTaskError",
    "InvalidName",
    "InvalidPayload",
    "ManifestError",
    "NonDeterminismError",
    "ProtocolError",
    "SignatureError",
    "TaskError",
    "Timeout",
    "WaitTimeout",
    "WfpkgError",
    "error_from_info",
    "error_info",
]

@dataclass(frozen=True)
class ErrorInfo:
    """An error as it crosses a seam: its class's stable code, its message, and any fields.

    `wfpkg.errors.error_from_info` turns it back into the exception registered for ``code``.
    """

    code: str
    message: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail:
            out["detail"] = dict(self.detail)
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ErrorInfo:
        """Inverse of `to_json`."""
        return cls(str(data["code"]), str(data.get("message", "")), dict(data.get("detail") or {}))


_BY_CODE: dict[str, type[BaseException]] = {}


def _register(cls: type[BaseException], code: str) -> None:
    if _BY_CODE.setdefault(code, cls) is not cls:
        raise TypeError(f"error code {code!r} of {cls.__qualname__} is taken by {_BY_CODE[code].__qualname__}")


class WfpkgError(Exception):
    """The root of every error raised by `wfpkg`, `wfregistry` and `wfhost`.

    A subclass that sets its own ``code`` is registered under it, so that an
    `ErrorInfo` with that code is rebuilt into it; one that does not (an
    author's ``class MyError(TaskError)``) travels under its parent's code.
    """

    code: ClassVar[str] = "error"

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" in cls.__dict__:
            _register(cls, cls.code)

    def info(self) -> ErrorInfo:
        """This error as it crosses a seam."""
        return ErrorInfo(self.code, str(self))

    @classmethod
    def from_info(cls, info: ErrorInfo) -> WfpkgError:
        """Rebuild from `info` (the inverse of `info`)."""
        return cls(info.message)


class DefinitionError(WfpkgError):
    """A workflow or task was declared wrongly.

    Attributes:
        problems: every problem found, each naming the workflow and task.
    """

    code: ClassVar[str] = "definition"

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    @classmethod
    def from_info(cls, info: ErrorInfo) -> WfpkgError:
        return cls([info.message])


class InvalidName(WfpkgError):
    """A tenant, package, workflow, task or execution name is not valid."""

    code: ClassVar[str] = "invalid_name"


class ManifestError(WfpkgError):
    """`manifest.toml` or `metadata.json` is malformed or inconsistent."""

    code: ClassVar[str] = "manifest"


class ArchiveError(WfpkgError):
    """A `.wfpkg` archive was rejected.

    Attributes:
        member: the archive member at fault, or ``None`` for the archive itself.
        reason: what is wrong with it.
    """

    code: ClassVar[str] = "archive"

    def __init__(self, reason: str, member: str | None = None, *, archive: str | None = None) -> None:
        self.member = member
        self.reason = reason
        self.archive = archive
        where = f"{archive}: " if archive else ""
        what = f"member {member!r}: " if member is not None else ""
        super().__init__(f"{where}{what}{reason}")


class SignatureError(ArchiveError):
    """The signature is missing, malformed, made by another key, or not trusted."""

    code: ClassVar[str] = "signature"


class BuildError(WfpkgError):
    """`wfpkg build` could not produce an archive."""

    code: ClassVar[str] = "build"


class TaskError(WfpkgError):
    """Raised by task code to fail its task; retried according to the task's policy."""

    code: ClassVar[str] = "task"


class FatalTaskError(TaskError):
    """Raised by task code to fail its task without any retry."""

    code: ClassVar[str] = "fatal_task"


class WaitTimeout(WfpkgError):
    """A durable wait ended because its timeout fired first."""

    code: ClassVar[str] = "wait_timeout"


class ChildWorkflowError(WfpkgError):
    """A child workflow failed or was cancelled.

    Attributes:
        child_id: the child's execution id.
        status: ``"failed"`` or ``"cancelled"``.
        error: the child's error message.
    """

    code: ClassVar[str] = "child_workflow"

    def __init__(self, child_id: str, status: str, error: str | None) -> None:
        self.child_id = child_id
        self.status = status
        self.error = error
        super().__init__(f"child execution {child_id!r} {status}: {error or 'no error recorded'}")

    def info(self) -> ErrorInfo:
        return ErrorInfo(self.code, str(self), {"child_id": self.child_id, "status": self.status,
                                                "error": self.error})

    @classmethod
    def from_info(cls, info: ErrorInfo) -> WfpkgError:
        error = info.detail.get("error")
        return cls(str(info.detail.get("child_id")), str(info.detail.get("status")),
                   None if error is None else str(error))


class ExecutionNotFound(WfpkgError):
    """A signal or cancellation named an execution that does not exist for this tenant."""

    code: ClassVar[str] = "execution_not_found"


class ExecutionFinished(WfpkgError):
    """A signal was sent to an execution that has already finished."""

    code: ClassVar[str] = "execution_finished"


class NonDeterminismError(WfpkgError):
    """Task code made a different durable call on replay than the one its journal records."""

    code: ClassVar[str] = "nondeterminism"


class ProtocolError(WfpkgError, ValueError):
    """A message across a seam (worker socket, journal) that does not fit the protocol."""

    code: ClassVar[str] = "protocol"


class InvalidPayload(WfpkgError):
    """A signal's payload does not fit the type the task gave `Context.wait_for_signal`."""

    code: ClassVar[str] = "invalid_payload"


class Timeout(WfpkgError, TimeoutError):
    """A caller's wait gave up (``Client.wait``); also a built-in `TimeoutError`."""

    code: ClassVar[str] = "timeout"


class Cancelled(BaseException):  # noqa: N818 - named for what happened, like asyncio.CancelledError
    """The execution was cancelled; raised at the task's next durable call."""

    code: ClassVar[str] = "cancelled"


_register(WfpkgError, WfpkgError.code)
_register(Cancelled, Cancelled.code)


def error_info(exc: BaseException) -> ErrorInfo:
    """How ``exc`` crosses a seam: ours keep their code; anything else travels as the root's code."""
    if isinstance(exc, WfpkgError):
        return exc.info()
    if isinstance(exc, Cancelled):
        return ErrorInfo(Cancelled.code, str(exc) or "execution cancelled")
    message = str(exc)
    return ErrorInfo(WfpkgError.code, f"{type(exc).__name__}: {message}" if message else type(exc).__name__)


def error_from_info(info: ErrorInfo) -> BaseException:
    """The exception registered for ``info.code`` (the root for a code this process does not know)."""
    cls = _BY_CODE.get(info.code, WfpkgError)
    if cls is Cancelled:
        return Cancelled(info.message)
    if isinstance(cls, type) and issubclass(cls, WfpkgError):
        return cls.from_info(info)
    return WfpkgError(info.message)
