"""The service on a loopback port, for tests over real HTTP.

Example::

    with Host(home=tmp / "home") as host, served(host) as srv:
        admin = srv.admin_token()
        httpx.get(srv.url + "/healthz")
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from support.packages import TestKey
from support.waiting import until
from wfhost.service import ServiceConfig, create_app
from wfhost.service.state import Service

__all__ = ["WORKFLOW", "Served", "World", "bearer", "served", "sse_events", "upload"]

WORKFLOW = "purchase_approval::purchase_approval"


@dataclass
class World:
    """The service, an admin token, the signing key and built archives."""

    srv: Served
    admin: str
    key: TestKey
    archives: dict[str, Path]

    def tenant(self, name: str, packages: tuple[str, ...] = ("purchase_approval",)) -> str:
        """Create tenant ``name`` through the API, trust the key, upload ``packages``; return its token."""
        with self.srv.client(self.admin) as admin:
            assert admin.post("/v1/tenants", json={"name": name}).status_code == 201
            r = admin.post(f"/v1/tenants/{name}/keys",
                           json={"public_key": self.key.pub_path.read_text(), "label": "ci"})
            assert r.status_code == 201, r.text
            r = admin.post(f"/v1/tenants/{name}/tokens", json={"label": f"{name} ci"})
            assert r.status_code == 201, r.text
            token = str(r.json()["token"])
        with self.srv.client(token) as c:
            for p in packages:
                upload(c, name, self.archives[p], expect=201)
        return token


def upload(c: httpx.Client, tenant: str, archive: Path, expect: int) -> httpx.Response:
    """Upload ``archive`` for ``tenant``; assert the status."""
    with archive.open("rb") as f:
        r = c.post(f"/v1/tenants/{tenant}/packages", files={"archive": (archive.name, f, "application/zip")})
    assert r.status_code == expect, r.text
    return r



@dataclass
class Served:
    """A running service: its base URL and its state."""

    url: str
    service: Service

    def admin_token(self) -> str:
        """A new admin token."""
        return self.service.tokens.create(None, admin=True)[1]

    def client(self, token: str | None) -> httpx.Client:
        """An httpx client on this service with ``token`` (closed by the caller)."""
        return httpx.Client(base_url=self.url, headers=bearer(token), timeout=60)


def bearer(token: str | None) -> dict[str, str]:
    """The Authorization header for ``token`` (none for ``None``)."""
    return {"Authorization": f"Bearer {token}"} if token else {}


@contextmanager
def served(host: Any, config: ServiceConfig | None = None) -> Iterator[Served]:
    """Serve ``host`` (started by the caller) on 127.0.0.1 and a free port, in a thread."""
    app = create_app(host, config)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning",
                                           access_log=False))
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    until(lambda: server.started or not thread.is_alive(), "uvicorn to start")
    assert server.started, "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Served(f"http://127.0.0.1:{port}", app.state.service)
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def sse_events(response: httpx.Response) -> Iterator[tuple[str, Any]]:
    """``(event, data)`` of each Server-Sent Event of a streamed response."""
    event, data = None, []
    for line in response.iter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and event is not None:
            yield event, json.loads("\n".join(data))
            event, data = None, []


@contextmanager
def serve_process(home: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[tuple[Any, str]]:
    """``wfhost --home HOME serve --port 0 ARGS`` as a subprocess; yields it and its URL.

    Stopped with SIGTERM (then killed) on exit if still running.
    """
    import os
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "wfhost", "--home", str(home), "serve", "--port", "0",
                             *args], stderr=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})})
    assert proc.stderr is not None
    url = None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if line.startswith("serving "):
            url = line.split()[1]
            break
    assert url, "wfhost serve did not start:\n" + "".join(lines)
    # Keep reading stderr so a chatty server never blocks on a full pipe; kept for the test.
    proc.lines = lines  # type: ignore[attr-defined]
    drain = threading.Thread(target=lambda: lines.extend(proc.stderr), daemon=True)  # type: ignore[arg-type]
    drain.start()
    try:
        yield proc, url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
