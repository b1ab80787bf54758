"""Errors raised by the host.

The tree::

    wfpkg.WfpkgError                the one root (wfpkg.errors draws the whole tree)
    └── HostError                   every error the host raises to a caller
        ├── NotFound                unknown execution, workflow or tenant (HTTP 404, exit 3)
        ├── InvalidRequest          malformed input, payload or name (HTTP 400, exit 2)
        └── Conflict                an id reused with different content, a finished execution (HTTP 409, exit 4)

The SDK's `wfpkg.ExecutionNotFound` / `ExecutionFinished` are what task
code sees for the same conditions; the host maps them at its edge.
"""

from __future__ import annotations

from typing import ClassVar

from wfpkg.errors import WfpkgError

__all__ = ["Conflict", "HostError", "InvalidRequest", "NotFound"]


class HostError(WfpkgError):
    """Base of the host's errors; the message is one line a user can act on."""

    code: ClassVar[str] = "host"
    exit_code = 1


class NotFound(HostError):
    """An execution, workflow, package or tenant that does not exist (for this tenant)."""

    code: ClassVar[str] = "not_found"

    exit_code = 3


class InvalidRequest(HostError):
    """Input that is malformed: bad JSON, bad name, oversized payload."""

    code: ClassVar[str] = "invalid_request"

    exit_code = 2


class Conflict(HostError):
    """A request that contradicts what is recorded (id reused, execution already finished)."""

    code: ClassVar[str] = "conflict"

    exit_code = 4
