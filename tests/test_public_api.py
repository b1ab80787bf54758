"""The public namespaces of `wfpkg` and `wfhost` are frozen, and imports only go downward."""

from __future__ import annotations

import subprocess
import sys

import wfhost
import wfpkg


def test_wfpkg_exports() -> None:
    assert sorted(wfpkg.__all__) == sorted([
        "ArchiveError", "BuildError", "Cancelled", "ChildHandle", "ChildResult",
        "ChildWorkflowError", "Context", "DefinitionError", "ExecutionFinished",
        "ExecutionNotFound", "FatalTaskError", "InvalidName", "ManifestError",
        "NonDeterminismError", "RetryPolicy", "SignalWait", "SignatureError", "TaskError",
        "TaskSpec", "TimerWait", "TriggerRule", "Wait", "WaitResult", "WaitTimeout",
        "WfpkgError", "When", "Workflow", "__version__", "hookimpl", "workflow",
    ])
    for name in wfpkg.__all__:
        assert getattr(wfpkg, name) is not None


def test_wfhost_exports() -> None:
    assert sorted(wfhost.__all__) == sorted([
        "Client", "Conflict", "Host", "HostError", "InvalidRequest", "NotFound", "RemoteClient",
        "__version__",
    ])


def test_sdk_errors_derive_from_one_base_and_cancellation_is_not_an_exception() -> None:
    for name in wfpkg.__all__:
        obj = getattr(wfpkg, name)
        if isinstance(obj, type) and issubclass(obj, BaseException) and obj is not wfpkg.Cancelled:
            assert issubclass(obj, wfpkg.WfpkgError), name
    assert not issubclass(wfpkg.Cancelled, Exception)  # `except Exception` cannot swallow it


def test_the_sdk_never_imports_the_registry_or_the_host() -> None:
    code = ("import sys, wfpkg, wfpkg.archive, wfpkg.build, wfpkg.cli, wfpkg.runner;"
            "bad = [m for m in sys.modules if m.split('.')[0] in ('wfhost', 'wfregistry')];"
            "assert not bad, bad")
    subprocess.run([sys.executable, "-I", "-c", code], check=True)
