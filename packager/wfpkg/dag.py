"""Static checks of a task graph, shared by declaration, build and manifest reading."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = ["dag_problems", "topological_order"]


def dag_problems(workflow: str, deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Return every problem of a task graph: unknown dependencies, self-loops and cycles.

    Args:
        workflow: the workflow's name, used in messages.
        deps: task id -> ids it depends on, in declaration order.
    """
    problems: list[str] = []
    for task, upstream in deps.items():
        seen: set[str] = set()
        for dep in upstream:
            if dep == task:
                problems.append(f"workflow {workflow!r}: task {task!r} depends on itself")
            elif dep not in deps:
                problems.append(f"workflow {workflow!r}: task {task!r} depends on unknown task {dep!r}")
            elif dep in seen:
                problems.append(f"workflow {workflow!r}: task {task!r} lists dependency {dep!r} twice")
            seen.add(dep)
    if not problems:
        ordered = topological_order(deps)
        if len(ordered) < len(deps):
            cyclic = sorted(set(deps) - set(ordered))
            problems.append(f"workflow {workflow!r}: dependency cycle among tasks {', '.join(cyclic)}")
    return problems


def topological_order(deps: Mapping[str, Sequence[str]]) -> list[str]:
    """Order tasks so that each comes after its dependencies; ties keep declaration order.

    Tasks on a cycle (or depending on one) are left out.
    """
    remaining = {task: {d for d in upstream if d in deps} for task, upstream in deps.items()}
    ordered: list[str] = []
    done: set[str] = set()
    progress = True
    while progress:
        progress = False
        for task in deps:
            if task not in done and remaining[task] <= done:
                ordered.append(task)
                done.add(task)
                progress = True
    return ordered
