"""Worker processes, host side: one process per tenant, package and version.

Tenant code is imported only inside a worker (`wfregistry._worker_main`),
never in the host process, and (strict isolation) only after the worker has
put up its walls (`wfregistry.sandbox`). The host believes a worker only
about the runs it gave that worker: any other frame ends the worker. `WorkerPool` starts a worker the first time a run
of its version is submitted, routes the run's durable calls back to the host
(``on_call``) and reports how each run ended (``on_done``). A worker that
dies fails its in-flight runs (retryable) and is started again at the next
submit; a version that cannot be loaded fails its runs (not retryable). The
pool itself never goes down with a worker.

Example::

    pool = WorkerPool(on_call, log_dir=Path("/var/log/wfhost/workers"))
    pool.submit(package_info, request, lambda outcome: ...)
    ...
    pool.close()
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Final, TextIO

from wfpkg.errors import Cancelled, WfpkgError, error_info
from wfpkg.manifest import Manifest
from wfpkg.protocol import (
    DurableCall,
    ErrorInfo,
    OutcomeStatus,
    Result,
    TaskOutcome,
    TaskRequest,
    decode_call,
    encode_result,
)
from wfpkg.runtime import Suspended

from ._protocol import FrameError, FrameReader, FrameWriter, encode_frame, read_frame
from .errors import LoadError
from .inflight import Attempt, InFlight
from .info import PackageInfo
from .sandbox import Box, Walls

__all__ = ["OnCall", "OnDone", "WorkerPool", "trial_load"]

OnCall = Callable[[Attempt, int, DurableCall], Result]
"""``on_call(attempt, seq, call) -> result``; may raise `Suspended` or `Cancelled`."""
OnDone = Callable[[TaskOutcome], None]
"""Called once per submitted run with how it ended."""

_log = logging.getLogger(__name__)
_STOP_GRACE: Final = 10.0


def _exit_text(code: int | None) -> str:
    if code is None:
        return "exit code unknown"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _spawn(log: TextIO, box: Box, *, bytecode: bool = True) -> tuple[subprocess.Popen[bytes], socket.socket]:
    """Start ``python -I -m wfregistry._worker_main`` with its end of a socket pair.

    It gets the box's scrubbed environment, no descriptor but the socket and
    its log, and (strict isolation) the sandbox spec it enforces on itself.
    """
    parent, child = socket.socketpair()
    try:
        argv = [sys.executable, "-I"] + ([] if bytecode else ["-B"])
        argv += ["-m", "wfregistry._worker_main", "--fd", str(child.fileno())]
        if box.spec is not None:
            argv += ["--sandbox", box.spec.to_json()]
        proc = subprocess.Popen(
            argv,
            env=box.env,
            cwd=box.scratch,
            pass_fds=(child.fileno(),),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            close_fds=True,
        )
    except BaseException:
        parent.close()
        raise
    finally:
        child.close()
    return proc, parent


def _load_frame(install_dir: Path, package: str, label: str, manifest_text: str, threads: int) -> dict[str, Any]:
    return {"op": "load", "install_dir": str(install_dir), "package": package, "label": label,
            "manifest": manifest_text, "threads": threads}


def _last_line(path: Path) -> str:
    try:
        lines = path.read_text("utf-8", errors="replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1][:300] if lines else ""


def trial_load(
    install_dir: Path,
    package_name: str,
    manifest: Manifest,
    *,
    timeout: float = 30.0,
    log_path: Path,
    label: str | None = None,
    walls: Walls | None = None,
    tenant: str | None = None,
) -> None:
    """Load a package in a throwaway worker process and check it, then stop the worker.

    The worker imports the package's own ``wfhost`` entry points from
    ``install_dir`` (and nothing outside it), checks they stay inside the
    package, and compares the live workflows with the manifest's DAG.

    Args:
        install_dir: where the package's wheels are installed.
        package_name: its distribution name.
        manifest: its signed manifest.
        timeout: seconds the load may take before the worker is killed.
        log_path: the worker's stdout and stderr (the caller owns and removes it).
        label: how messages name the package (default ``name@version``).
        walls: the sandbox the worker runs in (default: strict, with no paths hidden).
        tenant: whose policy applies.

    Raises:
        LoadError: one line naming the package and the reason.
    """
    label = label or f"{package_name}@{manifest.version}"
    box = (walls or Walls()).box(tenant, install_dir)
    try:
        with open(log_path, "ab") as log:
            proc, sock = _spawn(log, box, bytecode=False)  # type: ignore[arg-type]
    except BaseException:
        box.remove()
        raise
    reason: str | None = None
    try:
        sock.settimeout(timeout)
        sock.sendall(encode_frame(_load_frame(
            install_dir, package_name, label, manifest.to_bytes().decode("utf-8"), 1)))
        try:
            frame = read_frame(sock)
        except TimeoutError:
            frame = None
            reason = f"loading took longer than {timeout:g}s (killed)"
        except FrameError as exc:
            frame = None
            reason = f"worker broke the protocol: {exc}"
        if reason is None:
            if frame is None:
                code = proc.wait(timeout=_STOP_GRACE)
                tail = _last_line(log_path)
                reason = f"worker exited while loading ({_exit_text(code)})" + (
                    f"; last output: {tail}" if tail else "")
            elif frame["op"] == "load_failed":
                reason = str(frame.get("error"))
            elif frame["op"] == "ready":
                sock.sendall(encode_frame({"op": "stop"}))
            else:
                reason = f"worker sent {frame['op']!r} instead of ready"
    except OSError as exc:
        reason = f"worker unreachable: {exc}"
    finally:
        sock.close()
        try:
            proc.wait(timeout=0 if reason else _STOP_GRACE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        box.remove(proc.pid)
    if reason is not None:
        raise LoadError(f"cannot load {label}: {reason}")


def _run_frame(attempt: Attempt) -> dict[str, Any]:
    return {"op": "run", "run_id": attempt.run_id, "request": attempt.request.to_dict()}


def _report(attempt: Attempt, outcome: TaskOutcome) -> None:
    if attempt.on_done is None:
        return
    try:
        attempt.on_done(outcome)
    except Exception:  # noqa: BLE001 - a callback bug must not kill the reader
        _log.exception("on_done for run %s raised", attempt.run_id)


def _fail(attempts: list[Attempt], error: str, retryable: bool) -> None:
    for attempt in attempts:
        _report(attempt, TaskOutcome(OutcomeStatus.FAILED, error=error, retryable=retryable))


class _Worker:
    """One worker process (host side); the attempts it holds are kept by the pool's `InFlight`."""

    def __init__(self, pool: WorkerPool, package: PackageInfo) -> None:
        self.pool = pool
        self.key = (package.tenant, package.name, package.version)
        self.label = package.label
        self.package = package
        self.lock = threading.Lock()
        self.state = "loading"  # loading -> ready -> stopping -> dead; loading -> failed
        self.stopped = threading.Event()
        self.log_path = pool.log_dir / f"{package.tenant}__{package.name}__{package.version}.log"
        self.box = pool.walls.box(package.tenant, package.install_dir)
        try:
            with open(self.log_path, "ab") as log:
                self.proc, self.sock = _spawn(log, self.box)  # type: ignore[arg-type]
        except BaseException:
            self.box.remove()
            raise
        self.writer = FrameWriter(self.sock)
        self.incoming = FrameReader(self.sock)
        self.send(_load_frame(package.install_dir, package.name, self.label,
                              package.manifest.to_bytes().decode("utf-8"), pool.threads_per_worker))
        self.timer = threading.Timer(pool.load_timeout, self._load_timed_out)
        self.timer.daemon = True
        self.timer.start()
        self.reader = threading.Thread(target=self._read, name=f"worker-reader {self.label}", daemon=True)
        self.reader.start()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def accepting(self) -> bool:
        with self.lock:
            return self.state in ("loading", "ready")

    def send(self, *frames: dict[str, Any]) -> bool:
        """Send frames in one write (with any others queued meanwhile); False if the worker is gone."""
        try:
            self.writer.send(*frames)
            return True
        except OSError:
            return False

    def submit(self, attempts: list[Attempt]) -> bool:
        """Take ``attempts`` and send their runs in one write; False if this worker takes no more."""
        with self.lock:
            if self.state not in ("loading", "ready"):
                return False
            # An attempt given up meanwhile (timed out) has nothing to run.
            held = [a for a in attempts if self.pool.inflight.hold(a.run_id, self)]
            if self.state == "loading":
                return True  # sent once the worker is ready
        if held:
            # A failed send needs nothing here: the reader sees the worker die and fails the runs.
            self.send(*(_run_frame(a) for a in held))
        return True

    def _load_failed(self, reason: str) -> None:
        with self.lock:
            if self.state != "loading":
                return
            self.state = "failed"
            attempts = self.pool.inflight.finish_held_by(self)
        self.timer.cancel()
        _log.warning("worker for %s failed to load: %s", self.label, reason)
        _fail(attempts, f"cannot load {self.label}: {reason} (log: {self.log_path})", False)
        self.pool._forget(self)

    def _load_timed_out(self) -> None:
        self._load_failed(f"loading took longer than {self.pool.load_timeout:g}s (worker killed)")
        with contextlib.suppress(OSError):
            self.proc.kill()

    def _ready(self) -> None:
        with self.lock:
            if self.state != "loading":
                return
            self.state = "ready"
            waiting = self.pool.inflight.held_by(self)
        self.timer.cancel()
        if waiting:
            self.send(*(_run_frame(a) for a in waiting))

    def _done(self, frame: dict[str, Any]) -> None:
        attempt = self.pool.inflight.finish(str(frame.get("run_id")), holder=self)
        if frame.get("exiting"):
            with self.lock:
                if self.state == "ready":
                    self.state = "stopping"  # it ends itself after this (a limit): new runs go to a new worker
        if attempt is None:
            return  # not an attempt this worker holds (any more): nothing to believe
        try:
            outcome = TaskOutcome.from_dict(frame["outcome"])
        except (KeyError, TypeError, ValueError) as exc:
            outcome = TaskOutcome(OutcomeStatus.FAILED, error=f"worker for {self.label} sent a bad outcome: {exc}",
                                  retryable=True)
        _report(attempt, outcome)

    def _call(self, frame: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"op": "reply", "call_id": frame.get("call_id")}
        attempt = self.pool.inflight.get(str(frame.get("run_id")))
        try:
            if attempt is None or attempt.holder is not self:
                raise Cancelled(f"attempt {frame.get('run_id')} is no longer current")
            try:
                call = decode_call(frame["call"])
            except (KeyError, TypeError, ValueError) as exc:
                raise FrameError(f"bad durable call: {exc}") from None
            reply["result"] = encode_result(self.pool.on_call(attempt, int(frame["seq"]), call))
        except Suspended as exc:
            reply["suspended"] = exc.waiting_for
        except (Cancelled, WfpkgError) as exc:
            reply["error"] = error_info(exc).to_json()
        except Exception as exc:  # noqa: BLE001 - a host bug fails the task, not the worker
            _log.exception("on_call for run %s raised", frame.get("run_id"))
            reply["error"] = ErrorInfo(WfpkgError.code, f"host error in durable call: "
                                                        f"{type(exc).__name__}: {exc}").to_json()
        try:
            self.send(reply)
        except (TypeError, ValueError) as exc:
            self.send({"op": "reply", "call_id": frame.get("call_id"), "error": error_info(
                ValueError(f"durable call result is not JSON: {exc}")).to_json()})

    def _untrusted(self, frame: dict[str, Any]) -> str | None:
        """Why a frame from the worker is not believed (``None``: it is).

        A worker speaks only about the runs the host gave it, in frames of
        the right shape; anything else means its code is hostile or broken.
        """
        op = frame["op"]
        if op not in ("call", "done", "ready", "load_failed"):
            return f"worker for {self.label} sent an unknown frame {op[:40]!r}"
        if op in ("call", "done"):
            run_id = frame.get("run_id")
            attempt = self.pool.inflight.get(run_id) if isinstance(run_id, str) else None
            if attempt is None or attempt.holder is not self:
                return (f"worker for {self.label} sent {op!r} for run {str(run_id)[:80]!r}, "
                        "which the host did not give it")
        if op == "call" and not (isinstance(frame.get("call_id"), int) and isinstance(frame.get("seq"), int)
                                 and isinstance(frame.get("call"), dict)):
            return f"worker for {self.label} sent a malformed call frame"
        if op == "done" and not isinstance(frame.get("outcome"), dict):
            return f"worker for {self.label} sent a malformed done frame"
        return None

    def _serve(self) -> str | None:
        """Act on the worker's frames until it closes the socket or breaks a rule (returns why)."""
        while True:
            try:
                frames = self.incoming.frames()
            except FrameError as exc:
                return f"worker for {self.label} broke the protocol: {exc}"
            if frames is None:
                return None
            for frame in frames:
                error = self._untrusted(frame)
                if error is not None:
                    _log.warning("%s; killing it", error)
                    return error
                op = frame["op"]
                if op == "call":
                    self.pool._calls.submit(self._call, frame)
                elif op == "done":
                    self._done(frame)
                elif op == "ready":
                    self._ready()
                elif op == "load_failed":
                    self._load_failed(str(frame.get("error")))

    def _read(self) -> None:
        error = self._serve()
        if error is not None:
            with contextlib.suppress(OSError):
                self.proc.kill()
        code = self.proc.wait()
        self.sock.close()
        self.box.remove(self.proc.pid)
        self._load_failed(f"worker exited while loading ({_exit_text(code)})")
        with self.lock:
            stopping = self.state == "stopping"
            self.state = "dead" if self.state != "failed" else "failed"
            runs = self.pool.inflight.finish_held_by(self)
        if runs:
            if error is None:
                verb = "was stopped" if stopping else "died"
                error = f"worker for {self.label} {verb} ({_exit_text(code)})"
            _log.warning("%s; failing %d in-flight run(s)", error, len(runs))
            _fail(runs, error, True)
        self.pool._forget(self)
        self.stopped.set()

    def stop(self, timeout: float) -> None:
        """Let in-flight runs finish (up to ``timeout``), then make sure the process is gone."""
        with self.lock:
            if self.state in ("loading", "ready"):
                self.state = "stopping"
        self.timer.cancel()
        self.send({"op": "stop"})
        if not self.stopped.wait(timeout):
            with contextlib.suppress(OSError):
                self.proc.kill()
            self.stopped.wait(_STOP_GRACE)


class WorkerPool:
    """Runs tasks of packages in worker processes, one per tenant, package and version.

    Args:
        on_call: performs a run's durable call: ``on_call(attempt, seq, call)
            -> result``. It runs on the pool's own threads and may block (on the
            database, say); it may raise `Suspended`, `Cancelled` or a
            `WfpkgError`, which the task sees raised. It is only asked about
            attempts in flight that the asking worker holds.
        inflight: the owner of in-flight attempts (shared with the host's
            scheduler); the pool makes its own if not given.
        threads_per_worker: task threads in each worker process.
        load_timeout: seconds a worker may take to load its package before it is killed.
        log_dir: where each worker's stdout and stderr go, as
            ``<tenant>__<package>__<version>.log`` (created if missing).
        call_threads: host-side threads serving durable calls, shared by all workers.
        walls: the sandbox around each worker (default `Walls()`: strict, run dirs in the temp dir).

    The pool owns its worker processes and threads: call `close` when done.
    ``on_done`` callbacks run on a worker's reader thread: keep them short.
    """

    def __init__(
        self,
        on_call: OnCall,
        *,
        threads_per_worker: int = 8,
        load_timeout: float = 30.0,
        log_dir: Path,
        call_threads: int = 32,
        inflight: InFlight | None = None,
        walls: Walls | None = None,
    ) -> None:
        self.on_call = on_call
        self.inflight = inflight if inflight is not None else InFlight()
        self.walls = walls or Walls()
        self.threads_per_worker = threads_per_worker
        self.load_timeout = load_timeout
        self.log_dir = Path(log_dir)
        self.log_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._calls = ThreadPoolExecutor(call_threads, thread_name_prefix="wfregistry-call")
        self._lock = threading.Lock()
        self._workers: dict[tuple[str, str, str], _Worker] = {}
        self._closed = False

    def submit(self, package: PackageInfo, request: TaskRequest, on_done: OnDone) -> None:
        """Run one task attempt of ``package`` in its worker; ``on_done`` gets the outcome.

        The worker is started if it is not running; the run waits until it has
        loaded. Never raises for a worker problem: that becomes a failed outcome.
        """
        self.submit_many([(package, request, on_done)])

    def submit_many(self, runs: Iterable[tuple[PackageInfo, TaskRequest, OnDone]]) -> None:
        """`submit` each of ``runs``; the runs for one worker go to it in one write."""
        groups: dict[tuple[str, str, str], tuple[PackageInfo, list[Attempt]]] = {}
        for package, request, on_done in runs:
            attempt = self.inflight.get(request.run_id) or self.inflight.add(Attempt(request))
            attempt.on_done = on_done
            key = (package.tenant, package.name, package.version)
            groups.setdefault(key, (package, []))[1].append(attempt)
        for key, (package, attempts) in groups.items():
            self._submit(key, package, attempts)

    def _submit(self, key: tuple[str, str, str], package: PackageInfo, attempts: list[Attempt]) -> None:
        while True:
            with self._lock:
                if self._closed:
                    raise RuntimeError("the worker pool is closed")
                worker = self._workers.get(key)
                if worker is None or not worker.accepting():
                    try:
                        worker = _Worker(self, package)
                    except OSError as exc:
                        for attempt in attempts:
                            self.inflight.finish(attempt.run_id)
                        _fail(attempts, f"cannot start a worker for {package.label}: {exc}", True)
                        return
                    self._workers[key] = worker
            if worker.submit(attempts):
                return

    def cancel_execution(self, tenant: str, execution_id: str) -> None:
        """Mark an execution cancelled: its attempts in flight see ``is_cancelled``.

        Only the workers holding those attempts are told (execution ids are
        unique per tenant only, so the tenant is part of the key).
        """
        for attempt in self.inflight.cancel(tenant, execution_id):
            if isinstance(attempt.holder, _Worker):
                attempt.holder.send({"op": "cancel", "run_id": attempt.run_id})

    def stop_version(self, tenant: str, name: str, version: str, *, timeout: float = _STOP_GRACE) -> None:
        """Stop the worker of one version: in-flight runs get ``timeout`` seconds to finish."""
        with self._lock:
            worker = self._workers.pop((tenant, name, version), None)
        if worker is not None:
            worker.stop(timeout)

    def live_workers(self) -> dict[str, int]:
        """``tenant::package@version`` -> pid of every worker process running now."""
        return {w.label: w.pid for w in self._live()}

    def trial_load(self, install_dir: Path, package_name: str, manifest: Manifest) -> None:
        """Load a package in a throwaway worker and check it; see `wfregistry.worker.trial_load`.

        Raises:
            LoadError: naming the package and the reason.
        """
        log_path = self.log_dir / f"trial__{package_name}__{manifest.version}.log"
        trial_load(install_dir, package_name, manifest, timeout=self.load_timeout, log_path=log_path,
                   walls=self.walls)

    def close(self, *, timeout: float = _STOP_GRACE) -> None:
        """Stop every worker (in-flight runs get ``timeout`` seconds) and the call threads."""
        with self._lock:
            self._closed = True
            workers, self._workers = list(self._workers.values()), {}
        threads = [threading.Thread(target=w.stop, args=(timeout,)) for w in workers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self._calls.shutdown(wait=False, cancel_futures=True)

    def __enter__(self) -> WorkerPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _live(self) -> list[_Worker]:
        with self._lock:
            return [w for w in self._workers.values() if w.accepting()]

    def _forget(self, worker: _Worker) -> None:
        with self._lock:
            if self._workers.get(worker.key) is worker:
                del self._workers[worker.key]


