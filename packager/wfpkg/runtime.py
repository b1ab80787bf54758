"""The seam between task code and the host that runs it (the Temporal pattern).

Task code calls `Context` methods; every durable call goes through a
`Runtime`, which numbers the calls of one task run (1, 2, 3, ...), replays
the results its journal already holds and hands the rest to a `Backend`. The
host implements `Backend`: in-process for plain-Python workflows, or over a
pipe from a package's worker process. `wfpkg` never imports the host.

Replay rule: a task that waits is run again from the top once its wait is
satisfied; every durable call it already made returns its journaled result,
so code between durable calls must be deterministic. A call whose kind or
name differs from what the journal holds at that number raises
`NonDeterminismError`.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from . import errors
from .errors import Cancelled, NonDeterminismError, WfpkgError

__all__ = ["Backend", "ContinueAsNew", "Runtime", "Suspended", "error_from_envelope"]


class Suspended(BaseException):  # noqa: N818 - a control-flow signal, like StopIteration
    """Raised by a backend when a wait cannot be satisfied yet: the task run ends, holding no thread.

    The backend has already recorded what the task waits for; the host runs the
    task again once the wait is satisfied.
    """

    def __init__(self, waiting_for: Mapping[str, Any] | None = None) -> None:
        self.waiting_for = dict(waiting_for or {})
        super().__init__("task suspended on a durable wait")


class ContinueAsNew(BaseException):  # noqa: N818 - a control-flow signal
    """Raised by `Context.continue_as_new`: restart the execution with fresh input and no journal."""

    def __init__(self, input: Mapping[str, Any]) -> None:  # noqa: A002
        self.input = dict(input)
        super().__init__("continue as new")


class Backend(ABC):
    """What the host provides to run durable calls for one task run.

    The backend journals each result it returns under ``(execution, task, seq)``
    in the same transaction as the effect itself, so a call is performed once
    even if the task runs again.
    """

    @abstractmethod
    def execute(self, seq: int, kind: str, name: str, request: Mapping[str, Any]) -> Any:
        """Perform durable call number ``seq`` for the first time and return its journaled result.

        Kinds: ``step`` (``{"value": v}``), ``wait`` (``{"waits": [...],
        "mode": "any"|"all", "timeout": s|None}``), ``signal_execution``,
        ``cancel_execution``, ``start_child``, ``now``.

        Raises:
            Suspended: a wait is not satisfied yet (recorded; run again later).
            Cancelled: the execution was cancelled.
        """

    @abstractmethod
    def cancelled(self) -> bool:
        """Whether cancellation of the execution has been requested."""


def error_from_envelope(envelope: Mapping[str, Any]) -> WfpkgError:
    """Rebuild an SDK error from its journaled form ``{"error": type, "message": text}``."""
    cls = getattr(errors, str(envelope.get("error")), None)
    message = str(envelope.get("message", ""))
    if cls is errors.ChildWorkflowError:
        return errors.ChildWorkflowError(
            str(envelope.get("child_id")), str(envelope.get("status")), envelope.get("detail")
        )
    if isinstance(cls, type) and issubclass(cls, WfpkgError) and cls is not errors.DefinitionError:
        return cls(message)
    return WfpkgError(message)


class Runtime:
    """Numbers, replays and forwards the durable calls of one task run.

    Args:
        backend: performs calls the journal does not hold yet.
        journal: the task's journal entries ``{"seq", "kind", "name", "result"}``.
        label: ``execution/task`` used in error messages.
    """

    def __init__(self, backend: Backend, journal: Iterable[Mapping[str, Any]], label: str) -> None:
        self._backend = backend
        self._journal = {int(e["seq"]): e for e in journal}
        self._label = label
        self._seq = 0

    @property
    def replaying(self) -> bool:
        """True while the next call's result is already in the journal."""
        return (self._seq + 1) in self._journal

    @property
    def cancelled(self) -> bool:
        """Whether cancellation of the execution has been requested."""
        return self._backend.cancelled()

    def call(
        self,
        kind: str,
        name: str,
        request: Mapping[str, Any] | None = None,
        compute: Callable[[], Any] | None = None,
    ) -> Any:
        """Make durable call ``kind``/``name``: replay it from the journal or perform it.

        Args:
            kind: the call's kind (see `Backend.execute`).
            name: what it is about (step name, signal names, child id), checked on replay.
            request: the call's arguments.
            compute: for steps, the function whose JSON result is recorded.
        """
        self._seq += 1
        seq = self._seq
        entry = self._journal.get(seq)
        if entry is not None:
            if entry["kind"] != kind or entry["name"] != name:
                raise NonDeterminismError(
                    f"{self._label}: durable call #{seq} is {kind} {name!r} but the journal "
                    f"recorded {entry['kind']} {entry['name']!r}; task code must make the same "
                    "durable calls in the same order on every run"
                )
            return entry["result"]
        if self._backend.cancelled():
            raise Cancelled(f"{self._label}: execution cancelled")
        body = dict(request or {})
        if compute is not None:
            value = compute()
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise WfpkgError(
                    f"{self._label}: step {name!r} returned a value that is not JSON: {exc}"
                ) from None
            body["value"] = value
        return self._backend.execute(seq, kind, name, body)
