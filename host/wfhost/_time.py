"""Times as users see them: RFC 3339 in UTC, the one format of every JSON output and API."""

from __future__ import annotations

from datetime import datetime, timezone

__all__ = ["rfc3339"]


def rfc3339(ts: float | None) -> str | None:
    """``1700000000.25`` -> ``"2023-11-14T22:13:20.250Z"``; ``None`` stays ``None``.

    Stored times are UNIX seconds (floats); every JSON output renders them
    with this function, with millisecond precision and a ``Z`` suffix.
    """
    if ts is None:
        return None
    dt = datetime.fromtimestamp(ts, timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"
