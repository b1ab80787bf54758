"""The hosting service: the HTTP API (`create_app`), its settings and `serve`.

Example::

    from wfhost import Host
    from wfhost.service import serve

    serve(Host(home=home), bind="127.0.0.1", port=8080)   # until SIGTERM
"""

from .app import create_app
from .quotas import Quotas
from .server import serve
from .state import Service, ServiceConfig
from .tokens import Principal, TokenStore

__all__ = ["Principal", "Quotas", "Service", "ServiceConfig", "TokenStore", "create_app", "serve"]
