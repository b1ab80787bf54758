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
from typing import Any, TypeVar

from .errors import Cancelled, NonDeterminismError, WfpkgError, error_from_info
from .protocol import DurableCall, Failed, JournalEntry, Result, Step, StepResult

__all__ = ["Backend", "ContinueAsNew", "Runtime", "Suspended"]

R = TypeVar("R")


class Suspended(BaseException):  # noqa: N818 - a control-flow signal, like StopIteration
    """Raised by a backend when a wait cannot be satisfied yet: the task run ends, holding no thread.

    The backend has already recorded what the task waits for; the host runs the
    task again once the wait is satisfied.

    Attributes:
        waiting_for: what the task waits for, in words (for ``wfhost status``).
    """

    def __init__(self, waiting_for: str | None = None) -> None:
        self.waiting_for = waiting_for
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
    def execute(self, seq: int, call: DurableCall) -> Result:
        """Perform durable call number ``seq`` for the first time and return its journaled result.

        A refused call returns `Failed` (journaled too, so a replay raises the same error).

        Raises:
            Suspended: a wait is not satisfied yet (recorded; run again later).
            Cancelled: the execution was cancelled.
        """

    @abstractmethod
    def cancelled(self) -> bool:
        """Whether cancellation of the execution has been requested."""


class Runtime:
    """Numbers, replays and forwards the durable calls of one task run.

    Args:
        backend: performs calls the journal does not hold yet.
        journal: the task's journal so far.
        label: ``execution/task`` used in error messages.
    """

    def __init__(self, backend: Backend, journal: Iterable[JournalEntry], label: str) -> None:
        self._backend = backend
        self._journal = {e.seq: e for e in journal}
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

    def step(self, name: str, compute: Callable[[], Any]) -> Any:
        """Durable call `Step`: replay the recorded value, or compute, check it is JSON and record it."""
        entry = self._replay("step", name)
        if entry is None:
            self._ready()
            value = compute()
            try:
                json.dumps(value)
            except (TypeError, ValueError) as exc:
                raise WfpkgError(
                    f"{self._label}: step {name!r} returned a value that is not JSON: {exc}") from None
            entry = self._backend.execute(self._seq, Step(name, value))
        return self._expect(entry, StepResult, "step").value

    def call(self, call: DurableCall, expect: type[R]) -> R:
        """Make a durable call: replay it from the journal or perform it.

        Returns:
            its result, which is an ``expect``.

        Raises:
            NonDeterminismError: the journal holds another call at this number.
            WfpkgError: the call was refused (the error registered for its code).
            Cancelled: the execution was cancelled.
        """
        entry = self._replay(call.kind, call.name)
        if entry is None:
            self._ready()
            entry = self._backend.execute(self._seq, call)
        return self._expect(entry, expect, call.kind)

    def _replay(self, kind: str, name: str) -> Result | None:
        self._seq += 1
        entry = self._journal.get(self._seq)
        if entry is None:
            return None
        if entry.kind != kind or entry.name != name:
            raise NonDeterminismError(
                f"{self._label}: durable call #{self._seq} is {kind} {name!r} but the journal "
                f"recorded {entry.kind} {entry.name!r}; task code must make the same "
                "durable calls in the same order on every run"
            )
        return entry.result

    def _ready(self) -> None:
        if self._backend.cancelled():
            raise Cancelled(f"{self._label}: execution cancelled")

    def _expect(self, result: Result, expect: type[R], kind: str) -> R:
        if isinstance(result, Failed):
            raise error_from_info(result.error)
        if not isinstance(result, expect):
            raise WfpkgError(f"{self._label}: durable call #{self._seq} ({kind}) got a "
                             f"{type(result).__name__}, not a {expect.__name__}")
        return result
