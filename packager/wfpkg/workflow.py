"""Declaring workflows: `Workflow`, its tasks, retry policies and trigger rules.

Example::

    from wfpkg import Context, RetryPolicy, Workflow

    pipeline = Workflow("data_processing", description="collect, process, report")

    @pipeline.task()
    def collect_data(ctx: Context) -> None:
        ctx["raw_data"] = [1, 2, 3]

    @pipeline.task(depends_on=[collect_data], retry=RetryPolicy(attempts=3, backoff=0.5))
    def process_data(ctx: Context) -> None:
        ctx["processed"] = [x * 2 for x in ctx["raw_data"]]

Everything is checked when it is declared: a bad name, a duplicate id or an
unknown dependency raises `DefinitionError` naming the workflow and task.
Dependencies must be declared before the task that uses them, so a cycle
cannot be written.
"""

from __future__ import annotations

import enum
import operator
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, overload

from .dag import dag_problems, topological_order
from .errors import DefinitionError, FatalTaskError, InvalidName
from .names import check_name

if TYPE_CHECKING:
    from .context import Context

__all__ = ["RetryPolicy", "TaskSpec", "TriggerRule", "When", "Workflow"]

TaskFn = Callable[["Context"], Any]
F = TypeVar("F", bound=TaskFn)


class TriggerRule(str, enum.Enum):
    """When a task may run, given the final states of its dependencies.

    ``ALL_SUCCESS`` (default): every dependency succeeded.
    ``ALL_DONE``: every dependency finished, whatever its outcome (cleanup).
    ``ANY_FAILED``: every dependency finished and at least one failed (compensation).
    ``NONE_FAILED``: every dependency finished and none failed (skipped is fine).

    A task whose rule can no longer be met is skipped.
    """

    ALL_SUCCESS = "all_success"
    ALL_DONE = "all_done"
    ANY_FAILED = "any_failed"
    NONE_FAILED = "none_failed"


_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "in": lambda a, b: a in b,
    "not in": lambda a, b: a not in b,
}


@dataclass(frozen=True)
class When:
    """A condition on a context value that a task needs, besides its trigger rule.

    ``When("amount", "<", 1000)`` runs the task only if the merged context's
    ``amount`` is below 1000; otherwise the task is skipped. A missing key or
    values that cannot be compared make the condition false.
    """

    key: str
    op: str
    value: Any = None

    def __post_init__(self) -> None:
        if self.op not in _OPS and self.op not in ("exists", "truthy"):
            raise DefinitionError([f"condition on {self.key!r}: unknown operator {self.op!r}"])

    def holds(self, context: Mapping[str, Any]) -> bool:
        """Evaluate the condition on a merged context."""
        if self.op == "exists":
            return self.key in context
        if self.key not in context:
            return False
        if self.op == "truthy":
            return bool(context[self.key])
        try:
            return bool(_OPS[self.op](context[self.key], self.value))
        except TypeError:
            return False

    def to_dict(self) -> dict[str, Any]:
        """The condition as stored in the manifest."""
        out: dict[str, Any] = {"key": self.key, "op": self.op}
        if self.op not in ("exists", "truthy"):
            out["value"] = self.value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> When:
        """Inverse of `to_dict`."""
        return cls(str(data["key"]), str(data["op"]), data.get("value"))


@dataclass(frozen=True)
class RetryPolicy:
    """How a failed task is retried.

    Attributes:
        attempts: total attempts, the first included (1 = no retry).
        backoff: seconds before the first retry.
        multiplier: each further retry waits this much longer.
        max_backoff: the longest wait between attempts.
        jitter: up to this fraction of the delay is added at random, so that
            many failing tasks do not retry in lockstep.
        retry_on: exception types that are retried; others fail at once.
            `FatalTaskError` is never retried.
    """

    attempts: int = 1
    backoff: float = 1.0
    multiplier: float = 2.0
    max_backoff: float = 300.0
    jitter: float = 0.1
    retry_on: tuple[type[BaseException], ...] = (Exception,)

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.attempts, int) or self.attempts < 1:
            problems.append(f"retry attempts must be an integer >= 1, not {self.attempts!r}")
        for name in ("backoff", "multiplier", "max_backoff", "jitter"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value < 0:
                problems.append(f"retry {name} must be a number >= 0, not {value!r}")
        if problems:
            raise DefinitionError(problems)

    def retries(self, error: BaseException) -> bool:
        """Whether this error is one the policy retries (attempts aside)."""
        return not isinstance(error, FatalTaskError) and isinstance(error, self.retry_on)

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        base = min(self.max_backoff, self.backoff * self.multiplier ** max(0, attempt - 1))
        return base + base * self.jitter * (rng or random).random()

    def to_dict(self) -> dict[str, Any]:
        """The policy as stored in the manifest (exception types by qualified name)."""
        return {
            "attempts": self.attempts,
            "backoff": float(self.backoff),
            "multiplier": float(self.multiplier),
            "max_backoff": float(self.max_backoff),
            "jitter": float(self.jitter),
            "retry_on": [f"{t.__module__}.{t.__qualname__}" for t in self.retry_on],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RetryPolicy:
        """A policy from its manifest form; ``retry_on`` is not restored (the worker decides)."""
        return cls(
            attempts=int(data.get("attempts", 1)),
            backoff=float(data.get("backoff", 1.0)),
            multiplier=float(data.get("multiplier", 2.0)),
            max_backoff=float(data.get("max_backoff", 300.0)),
            jitter=float(data.get("jitter", 0.1)),
        )


@dataclass(frozen=True)
class TaskSpec:
    """One declared task.

    Attributes:
        id: the task id, unique within its workflow.
        fn: the task body, called with a `Context`.
        depends_on: ids of the tasks it depends on, in declared order; the
            task sees their outputs merged in that order (later wins).
        retry: its retry policy.
        timeout: seconds one attempt may run, or ``None``.
        trigger: when it may run given its dependencies' outcomes.
        when: an optional condition on the merged context.
    """

    id: str
    fn: TaskFn
    depends_on: tuple[str, ...] = ()
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    timeout: float | None = None
    trigger: TriggerRule = TriggerRule.ALL_SUCCESS
    when: When | None = None

    def to_dict(self) -> dict[str, Any]:
        """The static part of the task, as the manifest stores it."""
        out: dict[str, Any] = {
            "id": self.id,
            "depends_on": list(self.depends_on),
            "trigger": self.trigger.value,
            "retry": self.retry.to_dict(),
        }
        if self.timeout is not None:
            out["timeout"] = float(self.timeout)
        if self.when is not None:
            out["when"] = self.when.to_dict()
        return out


class Workflow:
    """A named DAG of tasks.

    Args:
        name: the workflow name (lowercase letters, digits, ``_``).
        description: one line shown by `wfpkg inspect` and the host.
        timeout: seconds the whole execution may take, or ``None``.
        inputs: the input fields it reads, each with a one-line description
            (``{"cost": "unit cost"}``); `wfhost register` and `wfpkg inspect`
            show them so people know what to pass.
    """

    def __init__(self, name: str, *, description: str = "", timeout: float | None = None,
                 inputs: Mapping[str, str] | None = None) -> None:
        try:
            self.name = check_name(name, "workflow name")
        except InvalidName as exc:
            raise DefinitionError([str(exc)]) from None
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            raise DefinitionError([f"workflow {name!r}: timeout must be a positive number of seconds"])
        self.description = description
        self.timeout = float(timeout) if timeout is not None else None
        self.inputs = dict(inputs or {})
        bad = [k for k, v in self.inputs.items() if not isinstance(k, str) or not isinstance(v, str)]
        if bad:
            raise DefinitionError([f"workflow {name!r}: inputs maps field names to descriptions "
                                   f"(strings); bad entries: {bad!r}"])
        self._tasks: dict[str, TaskSpec] = {}
        self._ids_by_fn: dict[Callable[..., Any], str] = {}

    def __repr__(self) -> str:
        return f"Workflow({self.name!r}, tasks={list(self._tasks)})"

    @property
    def tasks(self) -> Mapping[str, TaskSpec]:
        """Tasks by id, in declaration order."""
        return dict(self._tasks)

    @overload
    def task(self, fn: F, /) -> F: ...

    @overload
    def task(
        self,
        fn: None = None,
        *,
        id: str | None = None,  # noqa: A002
        depends_on: Iterable[str | Callable[..., Any]] = (),
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        trigger: TriggerRule | str = TriggerRule.ALL_SUCCESS,
        when: When | None = None,
    ) -> Callable[[F], F]: ...

    def task(
        self,
        fn: F | None = None,
        *,
        id: str | None = None,  # noqa: A002 - the natural name, as in Cloacina's #[task(id = ...)]
        depends_on: Iterable[str | Callable[..., Any]] = (),
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        trigger: TriggerRule | str = TriggerRule.ALL_SUCCESS,
        when: When | None = None,
    ) -> F | Callable[[F], F]:
        """Declare a task; use as ``@wf.task`` or ``@wf.task(...)``.

        Args:
            fn: the task body (when used without parentheses).
            id: the task id; defaults to the function's name.
            depends_on: tasks (ids or decorated functions) declared earlier.
            retry: the retry policy; default one attempt.
            timeout: seconds one attempt may run.
            trigger: a `TriggerRule` or its value.
            when: a `When` condition on the merged context.

        Returns:
            The function itself, unchanged, so it can still be called directly.
        """

        def register(func: F) -> F:
            self.add_task(
                func,
                id=id,
                depends_on=depends_on,
                retry=retry,
                timeout=timeout,
                trigger=trigger,
                when=when,
            )
            return func

        return register(fn) if fn is not None else register

    def add_task(
        self,
        fn: TaskFn,
        *,
        id: str | None = None,  # noqa: A002
        depends_on: Iterable[str | Callable[..., Any]] = (),
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        trigger: TriggerRule | str = TriggerRule.ALL_SUCCESS,
        when: When | None = None,
    ) -> TaskSpec:
        """Declare a task without a decorator; see `task`."""
        task_id = id if id is not None else getattr(fn, "__name__", "")
        where = f"workflow {self.name!r}: task {task_id!r}"
        problems: list[str] = []
        try:
            check_name(task_id, "task id")
        except InvalidName as exc:
            problems.append(f"workflow {self.name!r}: {exc}")
        if task_id in self._tasks:
            problems.append(f"{where} is declared twice")
        if not callable(fn):
            problems.append(f"{where}: body {fn!r} is not callable")
        deps: list[str] = []
        for dep in depends_on:
            dep_id = dep if isinstance(dep, str) else self._ids_by_fn.get(dep)
            if dep_id is None:
                problems.append(f"{where} depends on {dep!r}, which is not a task of this workflow")
            elif dep_id == task_id:
                problems.append(f"{where} depends on itself")
            elif dep_id not in self._tasks:
                problems.append(
                    f"{where} depends on unknown task {dep_id!r} (declare dependencies first)"
                )
            elif dep_id in deps:
                problems.append(f"{where} lists dependency {dep_id!r} twice")
            else:
                deps.append(dep_id)
        try:
            rule = TriggerRule(trigger)
        except ValueError:
            problems.append(f"{where}: unknown trigger rule {trigger!r}")
            rule = TriggerRule.ALL_SUCCESS
        if timeout is not None and (not isinstance(timeout, (int, float)) or timeout <= 0):
            problems.append(f"{where}: timeout must be a positive number of seconds")
        if retry is not None and not isinstance(retry, RetryPolicy):
            problems.append(f"{where}: retry must be a RetryPolicy")
        if when is not None and not isinstance(when, When):
            problems.append(f"{where}: when must be a When condition")
        if problems:
            raise DefinitionError(problems)
        spec = TaskSpec(
            id=task_id,
            fn=fn,
            depends_on=tuple(deps),
            retry=retry or RetryPolicy(),
            timeout=float(timeout) if timeout is not None else None,
            trigger=rule,
            when=when,
        )
        self._tasks[task_id] = spec
        self._ids_by_fn[fn] = task_id
        return spec

    def validate(self) -> None:
        """Check the whole graph once more (non-empty, acyclic); raise `DefinitionError`."""
        problems = dag_problems(self.name, {t.id: t.depends_on for t in self._tasks.values()})
        if not self._tasks:
            problems.append(f"workflow {self.name!r} has no tasks")
        if problems:
            raise DefinitionError(problems)

    def order(self) -> list[str]:
        """Task ids in a topological order that keeps declaration order where it can."""
        return topological_order({t.id: t.depends_on for t in self._tasks.values()})

    def to_dict(self) -> dict[str, Any]:
        """The static DAG, as the manifest stores it."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "tasks": [t.to_dict() for t in self._tasks.values()],
        }
        if self.timeout is not None:
            out["timeout"] = self.timeout
        if self.inputs:
            out["inputs"] = dict(self.inputs)
        return out


def dags_differ(declared: Sequence[Mapping[str, Any]], live: Sequence[Mapping[str, Any]]) -> list[str]:
    """Compare workflows as stored in a manifest with those the code declares.

    Returns one message per difference (missing or extra workflow, task or
    dependency, changed policy); empty when they agree.
    """
    problems: list[str] = []
    left = {w["name"]: w for w in declared}
    right = {w["name"]: w for w in live}
    for name in sorted(set(left) - set(right)):
        problems.append(f"workflow {name!r} is in the manifest but not in the code")
    for name in sorted(set(right) - set(left)):
        problems.append(f"workflow {name!r} is in the code but not in the manifest")
    for name in sorted(set(left) & set(right)):
        ltasks = {t["id"]: t for t in left[name]["tasks"]}
        rtasks = {t["id"]: t for t in right[name]["tasks"]}
        for tid in sorted(set(ltasks) ^ set(rtasks)):
            side = "manifest" if tid in ltasks else "code"
            problems.append(f"workflow {name!r}: task {tid!r} is only in the {side}")
        for tid in sorted(set(ltasks) & set(rtasks)):
            for key in sorted(set(ltasks[tid]) | set(rtasks[tid])):
                if ltasks[tid].get(key) != rtasks[tid].get(key):
                    problems.append(
                        f"workflow {name!r}: task {tid!r} {key} differs "
                        f"(manifest {ltasks[tid].get(key)!r}, code {rtasks[tid].get(key)!r})"
                    )
    return problems
