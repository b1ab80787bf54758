"""The JSON form of what `Client` and `Registry` return: one place, one rule for times."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from wfhost._time import rfc3339

__all__ = ["package_json", "to_json"]


def _is_time_key(key: str) -> bool:
    return key == "at" or key.endswith("_at")


def to_json(value: Any) -> Any:
    """A Client result as JSON: its ``to_dict()`` if it has one, else the value with times as RFC 3339.

    Client results become dataclasses with ``to_dict()``; until then they are
    dicts whose ``*_at`` fields are UNIX seconds.
    """
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: (rfc3339(v) if _is_time_key(k) and isinstance(v, (int, float))
                    and not isinstance(v, bool) else to_json(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    return value


def package_json(info: Any) -> dict[str, Any]:
    """A registered version (`wfregistry.PackageInfo`) as the API shows it."""
    registered: datetime = info.registered_at
    return {
        "id": info.id, "tenant": info.tenant, "package": info.name, "version": info.version,
        "state": info.state, "active": info.state == "active", "key_id": info.key_id,
        "sha256": info.archive_sha256, "registered_at": rfc3339(registered.timestamp()),
        "workflows": [wf["name"] for wf in info.manifest.workflows],
        "dags": info.manifest.workflows,
    }
