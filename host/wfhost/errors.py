"""Errors raised by the host.

The tree::

    HostError                   every error the host raises to a caller
    ├── NotFound                unknown execution, workflow or tenant (HTTP 404, exit 3)
    ├── InvalidRequest          malformed input, payload or name (HTTP 400, exit 2)
    └── Conflict                an id reused with different content, a finished execution (HTTP 409, exit 4)

The SDK's `wfpkg.ExecutionNotFound` / `ExecutionFinished` are what task
code sees for the same conditions; the host maps them at its edge.
"""

from __future__ import annotations

__all__ = ["Conflict", "HostError", "InvalidRequest", "NotFound"]


class HostError(Exception):
    """Base of the host's errors; the message is one line a user can act on."""

    exit_code = 1


class NotFound(HostError):
    """An execution, workflow, package or tenant that does not exist (for this tenant)."""

    exit_code = 3


class InvalidRequest(HostError):
    """Input that is malformed: bad JSON, bad name, oversized payload."""

    exit_code = 2


class Conflict(HostError):
    """A request that contradicts what is recorded (id reused, execution already finished)."""

    exit_code = 4
