"""wfhost: run packaged workflows durably.

`Host` runs executions (store, scheduler, workers); `Client` schedules,
signals, cancels and inspects them from any process.

Names are imported on first use (PEP 562), so ``wfhost --version`` and
other light commands do not pay for the store and the scheduler.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .client import Client
    from .errors import Conflict, HostError, InvalidRequest, NotFound
    from .host import Host
    from .remote import RemoteClient

__version__ = "0.1.0"

__all__ = ["Client", "Conflict", "Host", "HostError", "InvalidRequest", "NotFound", "RemoteClient", "__version__"]

_WHERE = {"Client": ".client", "Host": ".host", "Conflict": ".errors", "HostError": ".errors",
          "InvalidRequest": ".errors", "NotFound": ".errors", "RemoteClient": ".remote"}


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'wfhost' has no attribute {name!r}")
    value = getattr(import_module(where, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
