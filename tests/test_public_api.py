"""The public namespaces of `wfpkg` and `wfhost` are frozen, and imports only go downward."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
from types import ModuleType

import wfhost
import wfpkg


def test_wfpkg_exports() -> None:
    assert sorted(wfpkg.__all__) == sorted([
        "ArchiveError", "BuildError", "Cancelled", "ChildHandle", "ChildResult",
        "ChildWorkflowError", "Context", "DefinitionError", "ExecutionFinished",
        "ExecutionNotFound", "FatalTaskError", "InvalidName", "InvalidPayload", "ManifestError",
        "NonDeterminismError", "RetryPolicy", "SignalWait", "SignatureError", "TaskError",
        "TaskSpec", "Timeout", "TimerWait", "TriggerRule", "Wait", "WaitResult", "WaitTimeout",
        "WfpkgError", "When", "Workflow", "__version__", "hookimpl",
    ])
    for name in wfpkg.__all__:
        assert getattr(wfpkg, name) is not None


def test_wfhost_exports() -> None:
    assert sorted(wfhost.__all__) == sorted([
        "Client", "Conflict", "Host", "HostError", "InvalidRequest", "NotFound", "__version__",
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


def _our_modules() -> list[ModuleType]:
    import wfregistry

    modules = []
    for package in (wfpkg, wfregistry, wfhost):
        modules.append(package)
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if "migrations" in info.name or info.name.endswith("__main__"):
                continue
            modules.append(importlib.import_module(info.name))
    return modules


def test_every_error_class_we_define_derives_from_the_one_root() -> None:
    control_flow = {"Cancelled", "Suspended", "ContinueAsNew"}  # BaseException on purpose
    seen = []
    for module in _our_modules():
        for obj in vars(module).values():
            if (isinstance(obj, type) and issubclass(obj, BaseException)
                    and obj.__module__ == module.__name__):
                seen.append(obj)
                if obj.__name__ in control_flow:
                    assert not issubclass(obj, Exception), obj
                else:
                    assert issubclass(obj, wfpkg.WfpkgError), f"{module.__name__}.{obj.__name__}"
    names = {c.__name__ for c in seen}
    assert {"HostError", "RegistryError", "ProtocolError", "FrameError", "Timeout"} <= names
    assert issubclass(wfpkg.Timeout, TimeoutError)


def test_every_error_code_names_one_class() -> None:
    from wfpkg.errors import ErrorInfo, error_from_info

    classes = [obj for module in _our_modules() for obj in vars(module).values()
               if isinstance(obj, type) and issubclass(obj, wfpkg.WfpkgError)
               and "code" in obj.__dict__ and obj.__module__ == module.__name__]
    for cls in set(classes):
        assert type(error_from_info(ErrorInfo(cls.code, "x"))) is cls, cls
