"""Hooks for operator extensions: the host tells them when packages and executions change.

An extension is a module or object implementing some of the hooks below with
``@wfregistry.hooks.hookimpl``, published under the entry point group
``wfhost.extensions``::

    [project.entry-points."wfhost.extensions"]
    audit = "acme_audit.hooks"

`extension_manager` builds the plugin manager and loads that group. The
registry calls ``wfhost_package_registered`` and
``wfhost_package_unregistered``; the host calls ``wfhost_execution_finished``.
An extension that raises is logged and otherwise ignored: it cannot undo the
change it is told about.
"""

from __future__ import annotations

import logging
from typing import Any, Final

import pluggy

__all__ = [
    "EXTENSION_GROUP",
    "EXTENSION_PROJECT",
    "ExtensionSpecs",
    "call_hook",
    "extension_manager",
    "hookimpl",
    "hookspec",
]

EXTENSION_PROJECT: Final = "wfhost.extensions"
EXTENSION_GROUP: Final = "wfhost.extensions"

hookspec = pluggy.HookspecMarker(EXTENSION_PROJECT)
hookimpl = pluggy.HookimplMarker(EXTENSION_PROJECT)

_log = logging.getLogger(__name__)


class ExtensionSpecs:
    """The hooks an operator extension may implement (all are notifications)."""

    @hookspec
    def wfhost_package_registered(self, tenant: str, package: str, version: str) -> None:
        """A package version was registered and is now the active one."""

    @hookspec
    def wfhost_package_unregistered(self, tenant: str, package: str, version: str) -> None:
        """A package version was retired; its running executions drain."""

    @hookspec
    def wfhost_execution_finished(
        self, tenant: str, execution_id: str, workflow: str, status: str
    ) -> None:
        """An execution reached a final status (succeeded, failed, cancelled; an execution
        that exceeds its timeout ends failed)."""


def extension_manager(*, load_entry_points: bool = True) -> pluggy.PluginManager:
    """A plugin manager with the extension hooks, with group ``wfhost.extensions`` loaded.

    Args:
        load_entry_points: load the installed extensions (turn off in tests).
    """
    pm = pluggy.PluginManager(EXTENSION_PROJECT)
    pm.add_hookspecs(ExtensionSpecs)
    if load_entry_points:
        pm.load_setuptools_entrypoints(EXTENSION_GROUP)
    return pm


def call_hook(pm: pluggy.PluginManager | None, name: str, **kwargs: Any) -> None:
    """Call hook ``name`` on every extension; log, never raise, what an extension raises.

    Each extension is called on its own, so one that raises does not keep the
    others from hearing about the change.
    """
    if pm is None:
        return
    for impl in getattr(pm.hook, name).get_hookimpls():
        try:
            impl.function(**{arg: kwargs[arg] for arg in impl.argnames})
        except Exception:  # noqa: BLE001 - an extension must not break the host
            _log.exception("extension %s: hook %s(%r) raised; ignored", impl.plugin_name, name, kwargs)
