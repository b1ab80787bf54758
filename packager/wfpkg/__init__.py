"""wfpkg: write workflows, and package them as signed `.wfpkg` archives.

The authoring API (`Workflow`, `Context`, `RetryPolicy`, `TriggerRule`,
`When`, `hookimpl`) and the errors live here; the archive format, signing and
the `wfpkg` CLI live in their own modules (`wfpkg.archive`, `wfpkg.keys`,
`wfpkg.build`, `wfpkg.cli`).
"""

from .context import ChildHandle, ChildResult, Context, SignalWait, TimerWait, Wait, WaitResult
from .errors import (
    ArchiveError,
    BuildError,
    Cancelled,
    ChildWorkflowError,
    DefinitionError,
    ExecutionFinished,
    ExecutionNotFound,
    FatalTaskError,
    InvalidName,
    InvalidPayload,
    ManifestError,
    NonDeterminismError,
    SignatureError,
    TaskError,
    Timeout,
    WaitTimeout,
    WfpkgError,
)
from .plugin import hookimpl
from .workflow import RetryPolicy, TaskSpec, TriggerRule, When, Workflow

__version__ = "0.1.0"

__all__ = [
    "ArchiveError",
    "BuildError",
    "Cancelled",
    "ChildHandle",
    "ChildResult",
    "ChildWorkflowError",
    "Context",
    "DefinitionError",
    "ExecutionFinished",
    "ExecutionNotFound",
    "FatalTaskError",
    "InvalidName",
    "InvalidPayload",
    "ManifestError",
    "NonDeterminismError",
    "RetryPolicy",
    "SignalWait",
    "SignatureError",
    "TaskError",
    "TaskSpec",
    "Timeout",
    "TimerWait",
    "TriggerRule",
    "Wait",
    "WaitResult",
    "WaitTimeout",
    "WfpkgError",
    "When",
    "Workflow",
    "__version__",
    "hookimpl",
]
