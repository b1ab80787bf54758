"""The worker process: loads one tenant's package version and runs its tasks.

Started by `wfregistry.worker` as::

    python -I -m wfregistry._worker_main --fd N

where ``N`` is its end of a `socket.socketpair`; frames are described in
`wfregistry._protocol`. Its stdout and stderr are the worker's log file. This
is the only place tenant code is ever imported.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import importlib.metadata
import importlib.util
import io
import itertools
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

from wfpkg.errors import WfpkgError
from wfpkg.manifest import Manifest
from wfpkg.plugin import ENTRY_POINT_GROUP, collect_workflows, plugin_manager
from wfpkg.protocol import (
    DurableCall,
    ErrorInfo,
    Failed,
    OutcomeStatus,
    Result,
    TaskOutcome,
    TaskRequest,
    decode_result,
    encode_call,
)
from wfpkg.runner import run_task
from wfpkg.runtime import Backend, Suspended
from wfpkg.workflow import Workflow, dags_differ

from . import _confine, sandbox
from ._protocol import FrameReader, FrameWriter
from .task_threads import TaskThreads

__all__: list[str] = []


class _LoadFailed(WfpkgError):
    """Loading failed; the message is the one-line reason (reported as ``load_failed``)."""


class _StdoutRecorder(io.TextIOBase):
    """Stands in for stdout while the package is imported: what is written there is a load error."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> int:
        self.text += s
        return len(s)

    def writable(self) -> bool:
        return True


def _inside(path: str | None, root: Path) -> bool:
    if not path:
        return False
    try:
        return Path(path).resolve().is_relative_to(root)
    except OSError:
        return False


def _error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def load_package(install_dir: Path, package: str, manifest: Manifest) -> dict[str, Workflow]:
    """Import the package's own ``wfhost`` entry points and check them against its manifest.

    Raises:
        _LoadFailed: with a one-line reason.
    """
    root = install_dir.resolve()
    sys.path.insert(0, str(root))
    importlib.invalidate_caches()
    own = canonicalize_name(package)
    dists = [d for d in importlib.metadata.distributions(path=[str(root)])
             if canonicalize_name(d.metadata["Name"] or "") == own]
    if not dists:
        raise _LoadFailed(f"no distribution named {package!r} is installed in {root}")
    dist = dists[0]
    eps = [ep for ep in dist.entry_points if ep.group == ENTRY_POINT_GROUP]
    declared = {ep.name: ep.value for ep in eps}
    if declared != dict(manifest.entry_points):
        raise _LoadFailed(
            f"entry points of group {ENTRY_POINT_GROUP!r} in the wheel {declared} differ from the "
            f"manifest's {dict(manifest.entry_points)}"
        )
    own_files = {str(Path(str(dist.locate_file(f))).resolve()) for f in (dist.files or [])}
    pm = plugin_manager()
    recorder = _StdoutRecorder()
    real_stdout = sys.stdout
    sys.stdout = recorder
    try:
        for ep in eps:
            try:
                spec = importlib.util.find_spec(ep.module)
            except BaseException as exc:  # noqa: BLE001 - a parent package's import may raise anything
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise _LoadFailed(
                    f"importing entry point {ep.name!r} ({ep.value}) raised {_error_text(exc)}"
                ) from None
            origin = spec.origin if spec is not None else None
            if not _inside(origin, root) or str(Path(origin or "").resolve()) not in own_files:
                raise _LoadFailed(
                    f"entry point {ep.name!r} points at module {ep.module!r} "
                    f"({origin or 'not found'}), which is outside the package's own files"
                )
        # One pass over the package's own entry points (pluggy's load_setuptools_entrypoints
        # would rescan every installed distribution once per entry point).
        for ep in eps:
            try:
                plugin = ep.load()
                pm.register(plugin, name=ep.name)
            except BaseException as exc:  # noqa: BLE001 - package code may raise anything at import
                if isinstance(exc, KeyboardInterrupt):
                    raise
                raise _LoadFailed(
                    f"importing entry point {ep.name!r} ({ep.value}) raised {_error_text(exc)}"
                ) from None
            module_file = getattr(sys.modules.get(getattr(plugin, "__module__", "") or "", None),
                                  "__file__", None) or getattr(plugin, "__file__", None)
            if not _inside(module_file, root):
                raise _LoadFailed(f"plugin {plugin!r} was not loaded from {root}")
        try:
            workflows = collect_workflows(pm)
        except Exception as exc:  # noqa: BLE001
            raise _LoadFailed(f"collecting workflows raised {_error_text(exc)}") from None
    finally:
        sys.stdout = real_stdout
    if recorder.text:
        first = recorder.text.strip().splitlines()[0][:200] if recorder.text.strip() else ""
        raise _LoadFailed(
            f"printed to stdout while loading ({first!r}); packages must not write to stdout "
            "at import time (use logging)"
        )
    problems = dags_differ(manifest.workflows, [wf.to_dict() for wf in workflows.values()])
    if problems:
        raise _LoadFailed("the code's workflows differ from the signed manifest: " + "; ".join(problems))
    return workflows


class _Worker:
    def __init__(self, sock: socket.socket, refusal: str | None = None,
                 limits: sandbox.Limits | None = None) -> None:
        self.sock = sock
        self.reader = FrameReader(sock)
        self.writer = FrameWriter(sock)
        self.refusal = refusal
        self.limits = limits
        self.watch = _confine.CpuWatch(limits.cpu_seconds, self._over_cpu) if limits and limits.cpu_seconds else None
        self.calls: dict[int, tuple[threading.Event, list[dict[str, Any]]]] = {}
        self.calls_lock = threading.Lock()
        self.counter = itertools.count(1)
        self.cancelled: set[str] = set()
        self.workflows: dict[str, Workflow] = {}
        self.label = ""
        self.threads: TaskThreads | None = None

    def send(self, frame: dict[str, Any]) -> None:
        """Send a frame (with any others ready now: done frames of attempts ending together)."""
        try:
            self.writer.send(frame)
        except OSError:
            os._exit(0)  # the host is gone: nobody to report to

    def call(self, run_id: str, seq: int, call: DurableCall) -> Result:
        call_id = next(self.counter)
        event = threading.Event()
        slot: list[dict[str, Any]] = []
        with self.calls_lock:
            self.calls[call_id] = (event, slot)
        self.send({"op": "call", "call_id": call_id, "run_id": run_id, "seq": seq, "call": encode_call(call)})
        event.wait()
        reply = slot[0]
        if "suspended" in reply:
            waiting = reply["suspended"]
            raise Suspended(None if waiting is None else str(waiting))
        if "error" in reply:
            # Returned, not raised: the runtime raises the error registered for its code.
            return Failed(ErrorInfo.from_json(reply["error"]))
        return decode_result(call.kind, reply["result"])

    def run(self, frame: dict[str, Any]) -> None:
        run_id = str(frame.get("run_id"))
        try:
            request = TaskRequest.from_dict(frame["request"])
            wf = self.workflows.get(request.workflow)
            spec = wf.tasks.get(request.task_id) if wf is not None else None
            if spec is None:
                outcome = TaskOutcome(
                    OutcomeStatus.FAILED,
                    error=f"{self.label} has no task {request.workflow}::{request.task_id}",
                    retryable=False,
                )
            else:
                with self.watch.attempt(run_id) if self.watch else contextlib.nullcontext():
                    outcome = run_task(spec, request, _SocketBackend(self, run_id))
                if outcome.status == OutcomeStatus.FAILED and self.limits is not None:
                    outcome = dataclasses.replace(outcome, error=sandbox.explain(outcome.error, self.limits))
        except BaseException as exc:  # noqa: BLE001 - report, never lose a run
            outcome = TaskOutcome(OutcomeStatus.FAILED, error=f"worker error: {_error_text(exc)}", retryable=True)
        try:
            body = outcome.to_dict()
            self.send({"op": "done", "run_id": run_id, "outcome": body})
        except (TypeError, ValueError) as exc:
            self.send({"op": "done", "run_id": run_id, "outcome": TaskOutcome(
                OutcomeStatus.FAILED, error=f"task outcome is not JSON: {exc}", retryable=False).to_dict()})

    def serve(self) -> None:
        batch = self.reader.frames()
        if not batch or batch[0].get("op") != "load":
            return
        first, pending = batch[0], batch[1:]
        self.label = str(first["label"])
        if self.refusal is not None:
            self.send({"op": "load_failed", "error": f"the sandbox is not in force, refusing to load: "
                                                     f"{self.refusal}"})
            return
        try:
            manifest = Manifest.from_verified_bytes(str(first["manifest"]).encode("utf-8"))
            with _confine.load_cpu_limit(self.limits):
                self.workflows = load_package(Path(first["install_dir"]), str(first["package"]), manifest)
        except _LoadFailed as exc:
            error = str(exc)
            self.send({"op": "load_failed",
                       "error": sandbox.explain(error, self.limits) if self.limits else error})
            return
        except BaseException as exc:  # noqa: BLE001
            self.send({"op": "load_failed", "error": f"loading failed: {_error_text(exc)}"})
            return
        self.threads = TaskThreads(int(first.get("threads", 8)), "task")
        self.send({"op": "ready"})
        while True:
            for frame in pending:
                self._take(frame, self.threads)
            got = self.reader.frames()
            if got is None:
                return
            pending = got

    def _take(self, frame: dict[str, Any], threads: TaskThreads) -> None:
        op = frame["op"]
        if op == "run":
            threads.submit(self.run, frame)
        elif op == "reply":
            with self.calls_lock:
                event, slot = self.calls.pop(int(frame["call_id"]))
            slot.append(frame)
            event.set()
        elif op == "cancel":
            self.cancelled.add(str(frame["run_id"]))
        elif op == "stop":
            threading.Thread(target=self._drain_and_exit, daemon=True).start()

    def _over_cpu(self, run_id: str) -> None:
        """An attempt spun past its CPU limit: fail it, then end the worker (its thread cannot be stopped)."""
        assert self.limits is not None
        self.send({"op": "done", "run_id": run_id, "exiting": True, "outcome": TaskOutcome(
            OutcomeStatus.FAILED, error=f"CPU limit exceeded: the attempt used more than {self.limits.cpu_seconds} "
                            "CPU seconds (limit cpu_seconds)", retryable=False).to_dict()})
        self.writer.flush(5.0)  # another thread may be writing it, with frames queued before it
        sys.stderr.write(f"attempt {run_id} exceeded {self.limits.cpu_seconds} CPU seconds; worker exits\n")
        sys.stderr.flush()
        os._exit(3)

    def _drain_and_exit(self) -> None:
        if self.threads is not None:
            self.threads.drain()
        self.writer.flush(5.0)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


class _SocketBackend(Backend):
    def __init__(self, worker: _Worker, run_id: str) -> None:
        self._worker = worker
        self._run_id = run_id

    def execute(self, seq: int, call: DurableCall) -> Result:
        return self._worker.call(self._run_id, seq, call)

    def cancelled(self) -> bool:
        return self._run_id in self._worker.cancelled


def _widen_cpus() -> None:
    """Run on every CPU the machine allows, though the host may be pinned to one (``WFHOST_CPUS``)."""
    if hasattr(os, "sched_setaffinity"):
        try:
            os.sched_setaffinity(0, range(os.cpu_count() or 1))
        except OSError:  # a cpuset narrower than the machine: keep what was inherited
            pass


def main(argv: list[str] | None = None) -> None:
    """Entry point of the worker process."""
    parser = argparse.ArgumentParser(prog="wfregistry._worker_main")
    parser.add_argument("--fd", type=int, required=True)
    parser.add_argument("--sandbox", help="a JSON `wfregistry.sandbox.Spec` to enforce before anything else")
    args = parser.parse_args(argv)
    _widen_cpus()
    # The walls go up before the first frame is read, so before any package code is imported.
    refusal: str | None = None
    spec = sandbox.Spec.from_json(args.sandbox) if args.sandbox else None
    if spec is not None:
        try:
            sandbox.enforce(spec)
        except (sandbox.SandboxError, OSError) as exc:
            refusal = str(exc)
    # The log is a file: flush each line so an operator sees output as it happens.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True)
    sock = socket.socket(fileno=args.fd)
    try:
        _Worker(sock, refusal, spec.limits if spec else None).serve()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
