"""A workflow's static DAG in the form the scheduler works with.

Built from the DAG dict that a manifest stores (or `Workflow.to_dict()` for
plain-Python workflows), so the scheduler never needs tenant code.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from wfpkg import RetryPolicy, TriggerRule, When
from wfpkg.dag import topological_order

__all__ = ["TaskPlan", "WorkflowPlan", "merge_inputs"]


@dataclass(frozen=True)
class TaskPlan:
    """One task as the scheduler sees it."""

    id: str
    position: int
    depends_on: tuple[str, ...]
    trigger: TriggerRule
    retry: RetryPolicy
    timeout: float | None
    when: When | None

    def decide(self, dep_states: Mapping[str, str]) -> str | None:
        """Given the states of its dependencies, return ``ready``, ``skipped`` or ``None`` (not yet)."""
        states = [dep_states[d] for d in self.depends_on]
        if self.trigger is TriggerRule.ALL_SUCCESS:
            if any(s in ("failed", "skipped", "cancelled") for s in states):
                return "skipped"
            return "ready" if all(s == "succeeded" for s in states) else None
        if not all(s in ("succeeded", "failed", "skipped", "cancelled") for s in states):
            return None
        if self.trigger is TriggerRule.ALL_DONE:
            return "ready"
        failed = any(s == "failed" for s in states)
        if self.trigger is TriggerRule.ANY_FAILED:
            return "ready" if failed else "skipped"
        return "skipped" if failed else "ready"  # NONE_FAILED


@dataclass(frozen=True)
class WorkflowPlan:
    """Tasks in declaration order, with dependents precomputed."""

    name: str
    tasks: dict[str, TaskPlan]
    timeout: float | None

    @classmethod
    def from_dag(cls, dag: Mapping[str, Any]) -> WorkflowPlan:
        """Build from a manifest workflow entry (``name``, ``tasks``, optional ``timeout``)."""
        tasks = {}
        for i, t in enumerate(dag["tasks"]):
            tasks[t["id"]] = TaskPlan(
                id=t["id"],
                position=i,
                depends_on=tuple(t.get("depends_on", ())),
                trigger=TriggerRule(t.get("trigger", "all_success")),
                retry=RetryPolicy.from_dict(t.get("retry", {})),
                timeout=t.get("timeout"),
                when=When.from_dict(t["when"]) if t.get("when") else None,
            )
        return cls(dag["name"], tasks, dag.get("timeout"))

    @cached_property
    def dependents(self) -> dict[str, tuple[str, ...]]:
        """Task id -> ids of the tasks that depend on it."""
        out: dict[str, list[str]] = {t: [] for t in self.tasks}
        for t in self.tasks.values():
            for d in t.depends_on:
                out[d].append(t.id)
        return {k: tuple(v) for k, v in out.items()}

    @cached_property
    def roots(self) -> tuple[str, ...]:
        """Tasks with no dependencies."""
        return tuple(t.id for t in self.tasks.values() if not t.depends_on)

    @cached_property
    def order(self) -> tuple[str, ...]:
        """A topological order that keeps declaration order where it can."""
        return tuple(topological_order({t.id: t.depends_on for t in self.tasks.values()}))


def merge_inputs(execution_input: str, upstream: list[str | None]) -> dict[str, Any]:
    """The context a task sees: execution input, then each upstream output in order (later wins)."""
    merged: dict[str, Any] = json.loads(execution_input)
    for out in upstream:
        if out:
            merged.update(json.loads(out))
    return merged
