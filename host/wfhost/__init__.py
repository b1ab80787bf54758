"""wfhost: run packaged workflows durably.

`Host` runs executions (store, scheduler, workers); `Client` schedules,
signals, cancels and inspects them from any process.
"""

from .client import Client
from .errors import Conflict, HostError, InvalidRequest, NotFound
from .host import Host

__version__ = "0.1.0"

__all__ = ["Client", "Conflict", "Host", "HostError", "InvalidRequest", "NotFound", "RemoteClient", "__version__"]


def __getattr__(name: str) -> object:
    # httpx is imported only by those who talk to a service.
    if name == "RemoteClient":
        from .remote import RemoteClient

        return RemoteClient
    raise AttributeError(f"module 'wfhost' has no attribute {name!r}")
