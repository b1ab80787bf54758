"""How a package exposes its workflows to a host: a pluggy hook behind an entry point.

A package declares, in its ``pyproject.toml``::

    [project.entry-points.wfhost]
    data_processing = "data_processing.workflows"

and that module implements the hook::

    from wfpkg import hookimpl

    @hookimpl
    def wfhost_workflows():
        return [pipeline]

The build and the host's worker both load entry points of group ``wfhost``
with a pluggy `PluginManager` built by `plugin_manager`, and collect the
workflows with `collect_workflows`.
"""

from __future__ import annotations

from typing import Any

import pluggy

from .errors import DefinitionError
from .workflow import Workflow

__all__ = ["ENTRY_POINT_GROUP", "collect_workflows", "hookimpl", "hookspec", "plugin_manager"]

ENTRY_POINT_GROUP = "wfhost"
PROJECT = "wfhost"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


class WorkflowSpecs:
    """Hooks a workflow package implements."""

    @hookspec
    def wfhost_workflows(self) -> list[Workflow]:  # type: ignore[empty-body]
        """Return the workflows this package provides."""


def plugin_manager() -> pluggy.PluginManager:
    """A plugin manager that knows the package hooks."""
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(WorkflowSpecs)
    return pm


def collect_workflows(pm: pluggy.PluginManager) -> dict[str, Workflow]:
    """Call every plugin's ``wfhost_workflows`` and return the workflows by name, validated.

    Raises:
        DefinitionError: a non-workflow returned, a name given twice, or a bad graph.
    """
    found: dict[str, Workflow] = {}
    problems: list[str] = []
    results: list[Any] = pm.hook.wfhost_workflows()
    for batch in results:
        for wf in batch or ():
            if not isinstance(wf, Workflow):
                problems.append(f"wfhost_workflows returned {wf!r}, which is not a Workflow")
                continue
            if wf.name in found and found[wf.name] is not wf:
                problems.append(f"workflow {wf.name!r} is provided twice")
                continue
            try:
                wf.validate()
            except DefinitionError as exc:
                problems.extend(exc.problems)
            found[wf.name] = wf
    if not found and not problems:
        problems.append("the package provides no workflows (no wfhost_workflows hook returned any)")
    if problems:
        raise DefinitionError(problems)
    return found
