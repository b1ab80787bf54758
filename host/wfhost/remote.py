"""`RemoteClient`: the `Client` operations over a service's HTTP API (``wfhost serve``).

Example::

    from wfhost import Client

    with Client.connect("https://wf.example.com", token) as client:
        eid = client.schedule("purchase_approval::purchase_approval", {"cost": 5000})
        client.signal(eid, "approval", {"approved": True})
        print(client.wait(eid)["status"])

Results have the shapes `Client` returns (times as UNIX seconds), and the
service's problems come back as the same errors (`NotFound`, `Conflict`,
`InvalidRequest`), so code and the CLI behave alike on a local home and on a
service.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

from .errors import Conflict, HostError, InvalidRequest, NotFound

__all__ = ["RemoteClient", "RemoteError", "RemotePackage"]

TERMINAL = ("succeeded", "failed", "cancelled")


class RemoteError(HostError):
    """The service refused a request for a reason with no local equivalent (401, 403, 429, 5xx)."""

    def __init__(self, message: str, status: int, problem: str | None = None) -> None:
        super().__init__(message)
        #: the HTTP status and the problem's stable ``code`` (``None`` if the answer had none)
        self.status, self.problem = status, problem


@dataclass(frozen=True)
class _Manifest:
    workflows: list[dict[str, Any]]


@dataclass(frozen=True)
class RemotePackage:
    """A registered version as the service reports it (the fields of `wfregistry.PackageInfo` it shows)."""

    id: int | None
    tenant: str
    name: str
    version: str
    state: str
    key_id: str
    archive_sha256: str
    registered_at: datetime
    manifest: _Manifest = field(repr=False)

    @property
    def label(self) -> str:
        """``tenant::package@version``."""
        return f"{self.tenant}::{self.name}@{self.version}"

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> RemotePackage:
        """From the API's JSON form."""
        return cls(d.get("id"), d["tenant"], d["package"], d["version"], d["state"], d["key_id"],
                   d["sha256"], _parse_time(d["registered_at"]) or datetime.now(timezone.utc),
                   _Manifest([{"name": w} for w in d.get("workflows", [])]))


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _local(value: Any) -> Any:
    """API JSON back into `Client`'s shapes: RFC 3339 times to UNIX seconds."""
    if isinstance(value, dict):
        return {k: (datetime.fromisoformat(v.replace("Z", "+00:00")).timestamp()
                    if (k == "at" or k.endswith("_at")) and isinstance(v, str) else _local(v))
                for k, v in value.items()}
    if isinstance(value, list):
        return [_local(v) for v in value]
    return value


class RemoteClient:
    """`Client`'s operations against a service.

    Args:
        url: the service's base URL (``http://127.0.0.1:8080``).
        token: a tenant token (or an admin token, naming the tenant on each call).
        tenant: the tenant acted for when a call names none (default: the token's).
        timeout: seconds each request may take.
        transport: an httpx transport (tests); the client owns the httpx client it makes.
    """

    remote = True

    def __init__(self, url: str, token: str, *, tenant: str | None = None, timeout: float = 60.0,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self._acting_for = tenant
        self._http = httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"},
                                  timeout=timeout, transport=transport)
        self._whoami: dict[str, Any] | None = None

    def close(self) -> None:
        """Close the HTTP connections."""
        self._http.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def registry(self) -> Any:
        """Not available remotely: the registry lives in the service."""
        raise HostError("this command needs a local home; the service's registry is reached through its API")

    # -- plumbing ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            r = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise RemoteError(f"cannot reach {self.url}: {exc}", 0) from None
        if r.status_code < 400:
            return r.json() if r.content and r.headers.get("content-type", "").startswith(
                ("application/json", "application/problem+json")) else None
        try:
            problem = r.json()
            detail, code = str(problem.get("detail") or r.reason_phrase), problem.get("code")
        except ValueError:
            detail, code = r.text.strip() or r.reason_phrase, None
        if r.status_code == 404:
            raise NotFound(detail)
        if r.status_code == 409:
            raise Conflict(detail)
        if r.status_code in (413, 422):
            raise InvalidRequest(detail)
        if r.status_code == 429:
            detail += f" (retry after {r.headers.get('retry-after', '?')}s)"
        raise RemoteError(f"{self.url}: {detail}", r.status_code, code)

    @property
    def tenant(self) -> str:
        """The tenant acted for: the one given, else the token's."""
        if self._acting_for:
            return self._acting_for
        if self._whoami is None:
            self._whoami = self._request("GET", "/v1/whoami")
        assert self._whoami is not None
        if self._whoami.get("tenant") is None:
            raise InvalidRequest("an admin token acts for no tenant; name one (--tenant)")
        return str(self._whoami["tenant"])

    def _base(self, tenant: str | None) -> str:
        return f"/v1/tenants/{tenant or self.tenant}"

    # -- executions ---------------------------------------------------------------------------

    def schedule(self, workflow: str, input: Mapping[str, Any] | None = None, *,  # noqa: A002
                 id: str | None = None, tenant: str | None = None,  # noqa: A002
                 timeout: float | None = None) -> str:
        """Start an execution; returns its id (see `Client.schedule`)."""
        owner = tenant or self._acting_for
        if owner is None and workflow.count("::") == 2:
            owner = workflow.split("::", 1)[0]
        body: dict[str, Any] = {"workflow": workflow, "input": dict(input or {})}
        if id is not None:
            body["id"] = id
        if timeout is not None:
            body["timeout"] = timeout
        return str(self._request("POST", f"{self._base(owner)}/executions", json=body)["id"])

    def schedule_many(self, workflow: str, inputs: Sequence[Mapping[str, Any]], *,
                      ids: Sequence[str | None] | None = None, tenant: str | None = None,
                      timeout: float | None = None) -> list[str]:
        """One execution per input (one request each: not all-or-none remotely)."""
        ids = list(ids) if ids is not None else [None] * len(inputs)
        return [self.schedule(workflow, i, id=e, tenant=tenant, timeout=timeout)
                for i, e in zip(inputs, ids, strict=True)]

    def signal(self, execution_id: str, name: str, payload: Any = None, *,
               tenant: str | None = None, sender: str = "client") -> None:
        """Send a signal (see `Client.signal`)."""
        self._request("POST", f"{self._base(tenant)}/executions/{execution_id}/signals",
                      json={"name": name, "payload": payload})

    def cancel(self, execution_id: str, *, tenant: str | None = None, reason: str | None = None,
               by: str = "client") -> bool:
        """Request cancellation; False if it had already finished."""
        try:
            self._request("POST", f"{self._base(tenant)}/executions/{execution_id}/cancel",
                          json={"reason": reason})
        except Conflict:
            return False
        return True

    def retry(self, execution_id: str, *, tenant: str | None = None, by: str = "client") -> list[str]:
        """Run a failed or cancelled execution again from its failed tasks; returns the tasks reset."""
        out = self._request("POST", f"{self._base(tenant)}/executions/{execution_id}/retry")
        return list(out["tasks"])

    def status(self, execution_id: str, *, tenant: str | None = None) -> dict[str, Any]:
        """The execution's status (see `Client.status`)."""
        return _local(self._request("GET", f"{self._base(tenant)}/executions/{execution_id}"))  # type: ignore[no-any-return]

    def history(self, execution_id: str, *, tenant: str | None = None) -> list[dict[str, Any]]:
        """The execution's event log, oldest first."""
        return _local(self._request("GET", f"{self._base(tenant)}/executions/{execution_id}/history"))  # type: ignore[no-any-return]

    def executions(self, *, tenant: str | None = None, status: str | None = None,
                   workflow: str | None = None, limit: int = 100, parent: str | None = None,
                   after: tuple[float, str] | None = None, retrying: bool = False,
                   root: bool = False) -> list[dict[str, Any]]:
        """Executions, newest first, following the service's pages up to ``limit``."""
        if tenant == "*":
            raise InvalidRequest("every tenant's executions are not listed over the API")
        if after is not None:
            raise InvalidRequest("page with the API's cursor, not `after`, over the API")
        params: dict[str, Any] = {k: v for k, v in (("status", status), ("workflow", workflow),
                                                    ("parent", parent)) if v is not None}
        params.update({k: "true" for k, v in (("retrying", retrying), ("root", root)) if v})
        rows: list[dict[str, Any]] = []
        cursor = None
        while len(rows) < limit:
            page = self._request("GET", f"{self._base(tenant)}/executions", params={
                **params, "limit": min(1000, limit - len(rows)), **({"cursor": cursor} if cursor else {})})
            rows += _local(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return rows

    def wait(self, execution_id: str, *, tenant: str | None = None,
             timeout: float | None = None) -> dict[str, Any]:
        """Block until the execution finishes (the service runs it), following its event stream.

        Raises:
            TimeoutError: ``timeout`` seconds passed first.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        path = f"{self._base(tenant)}/executions/{execution_id}/events"
        while True:
            state = self.status(execution_id, tenant=tenant)  # also: NotFound before streaming
            if state["status"] in TERMINAL:
                return state
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                raise TimeoutError(f"execution {execution_id!r} still {state['status']} after {timeout}s")
            try:
                # The stream ends with `event: end`; a dropped connection (a restart) is re-opened.
                with self._http.stream("GET", path, timeout=httpx.Timeout(30.0, read=remaining)) as r:
                    for line in r.iter_lines():
                        if line.startswith("event: end"):
                            break
            except httpx.TimeoutException:
                continue
            except httpx.HTTPError:
                time.sleep(0.5)

    # -- tenants and trust (an admin token) ---------------------------------------------------

    def create_tenant(self, name: str) -> None:
        """Create a tenant (needs an admin token)."""
        self._request("POST", "/v1/tenants", json={"name": name})

    def trust(self, tenant: str, public_key_pem: str, label: str | None = None) -> str:
        """Trust a public key for a tenant (needs an admin token); returns its key id."""
        out = self._request("POST", f"/v1/tenants/{tenant}/keys", json={"public_key": public_key_pem,
                                                                         "label": label})
        return str(out["key_id"])

    def revoke(self, tenant: str, key_id: str) -> None:
        """Revoke a tenant's key (needs an admin token)."""
        self._request("DELETE", f"/v1/tenants/{tenant}/keys/{key_id}")

    # -- packages -----------------------------------------------------------------------------

    def register(self, archive: Path, *, tenant: str | None = None,
                 allow_downgrade: bool = False) -> RemotePackage:
        """Upload and register a `.wfpkg` (see `Client.register`)."""
        if allow_downgrade:
            raise InvalidRequest("allow_downgrade is not offered over the API")
        path = Path(archive)
        with path.open("rb") as f:
            out = self._request("POST", f"{self._base(tenant)}/packages",
                                files={"archive": (path.name, f, "application/zip")})
        return RemotePackage.from_json(out)

    def packages(self, tenant: str | None = None) -> list[RemotePackage]:
        """The tenant's registered versions."""
        if tenant == "*":
            raise InvalidRequest("every tenant's packages are not listed over the API")
        return [RemotePackage.from_json(p) for p in self._request("GET", f"{self._base(tenant)}/packages")]

    def unregister(self, package: str, version: str | None = None, *,
                   tenant: str | None = None) -> RemotePackage:
        """Retire a version: no new executions; running ones finish on it."""
        params = {"version": version} if version else None
        return RemotePackage.from_json(self._request("DELETE", f"{self._base(tenant)}/packages/{package}",
                                                     params=params))

    def activate(self, package: str, version: str, *, tenant: str | None = None) -> RemotePackage:
        """Make ``version`` the active one (a rollback)."""
        return RemotePackage.from_json(self._request(
            "POST", f"{self._base(tenant)}/packages/{package}/activate", json={"version": version}))
