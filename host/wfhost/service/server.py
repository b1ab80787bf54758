"""`serve`: the host and its API in one process, with a draining shutdown on SIGTERM.

On SIGTERM (or Ctrl-C) the API stops accepting (503 with ``Retry-After``)
and uvicorn finishes the requests in progress; the host then stops claiming
tasks and gives in-flight attempts ``grace`` seconds to finish; whatever still
runs is released (its host row marked stopped, so any host re-runs it at
once). The process exits 0 and nothing recorded is lost.
"""

from __future__ import annotations

import contextlib
import logging
import signal
from collections.abc import Callable, Iterator
from typing import Any

import uvicorn

from .app import create_app
from .state import ServiceConfig

__all__ = ["serve"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """Uvicorn, but a stop signal ends `serve` normally instead of being raised again at exit."""

    on_stop: Callable[[], None] = staticmethod(lambda: None)

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        def handle(sig: int, frame: Any) -> None:
            self.on_stop()
            self.handle_exit(sig, frame)
            self._captured_signals.clear()

        previous = {s: signal.signal(s, handle) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for s, h in previous.items():
                signal.signal(s, h)


def serve(host: Any, *, bind: str = "127.0.0.1", port: int = 8080, config: ServiceConfig | None = None,
          on_ready: Callable[[str], None] | None = None) -> int:
    """Run the API on ``bind:port`` over ``host`` (started here) until SIGTERM or Ctrl-C.

    Returns the number of attempts released unfinished after the grace period.
    The caller owns ``host`` and closes it afterwards.
    """
    config = config or ServiceConfig()
    app = create_app(host, config)
    svc = app.state.service
    server = _Server(uvicorn.Config(app, host=bind, port=port, log_level="warning", access_log=False,
                                    timeout_graceful_shutdown=max(1, int(config.grace))))

    def stop_accepting() -> None:
        svc.accepting = False
        host.stop_claiming()

    server.on_stop = stop_accepting
    host.start()
    if on_ready is not None:
        original = server.startup

        async def startup(sockets: Any = None) -> None:
            await original(sockets)
            bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
            on_ready(f"http://{bind}:{bound}")

        server.startup = startup  # type: ignore[method-assign]
    server.run()
    svc.accepting = False
    return int(host.drain(config.grace))
