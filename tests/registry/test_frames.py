"""Frames travel in batches: writes and reads per attempt do not grow with the number ready at once."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from wfpkg.protocol import TaskOutcome, TaskRequest
from wfregistry import PackageInfo, WorkerPool
from wfregistry._protocol import MAX_FRAME, FrameError, FrameReader, FrameWriter, encode_frame

if TYPE_CHECKING:
    from conftest import Env


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


class _HeldSocket:
    """A socket whose first ``sendall`` waits until the test lets it go (a write under way)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.entered = threading.Event()
        self.go = threading.Event()
        self.calls = 0

    def sendall(self, data: bytes) -> None:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.go.wait(30)
        self.sock.sendall(data)


def test_frames_queued_during_a_write_go_out_together_in_the_next(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    held = _HeldSocket(a)
    writer = FrameWriter(held)  # type: ignore[arg-type]
    first = threading.Thread(target=writer.send, args=({"op": "done", "run_id": "r0"},))
    first.start()
    assert held.entered.wait(30)
    for i in range(1, 21):  # other threads' frames, while r0's write is under way: they return at once
        writer.send({"op": "done", "run_id": f"r{i}"})
    held.go.set()
    first.join()
    assert writer.flush(30)
    assert held.calls == writer.writes == 2  # r0, then r1..r20 in one write
    reader = FrameReader(b)
    got: list[dict[str, Any]] = []
    while len(got) < 21:
        got += reader.frames() or []
    assert [f["run_id"] for f in got] == [f"r{i}" for i in range(21)]


def test_one_read_hands_out_every_whole_frame_it_brought(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(b"".join(encode_frame({"op": "run", "run_id": f"r{i}"}) for i in range(50)))
    reader = FrameReader(b)
    frames = reader.frames()
    assert frames is not None and [f["run_id"] for f in frames] == [f"r{i}" for i in range(50)]
    assert reader.reads == 1


def test_a_frame_split_across_reads_is_put_together(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    data = encode_frame({"op": "run", "run_id": "x" * 200_000})  # longer than one read
    a.setblocking(True)
    threading.Thread(target=a.sendall, args=(data,)).start()
    frames = FrameReader(b).frames()
    assert frames is not None and frames[0]["run_id"] == "x" * 200_000


def test_good_frames_before_a_bad_one_are_handed_out_then_the_bad_one_raises(
        pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(encode_frame({"op": "done", "run_id": "r1"}) + len(b"[1]").to_bytes(4, "big") + b"[1]")
    reader = FrameReader(b)
    assert reader.frames() == [{"op": "done", "run_id": "r1"}]
    with pytest.raises(FrameError, match="not an object with an 'op'"):
        reader.frames()


def test_an_oversized_length_raises_without_reading_the_body(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall((MAX_FRAME + 1).to_bytes(4, "big"))
    with pytest.raises(FrameError, match="over the"):
        FrameReader(b).frames()


def test_a_closed_peer_ends_the_frames(pair: tuple[socket.socket, socket.socket]) -> None:
    a, b = pair
    a.sendall(encode_frame({"op": "ready"}))
    a.close()
    reader = FrameReader(b)
    assert reader.frames() == [{"op": "ready"}]
    assert reader.frames() is None


def _submit_together(pool: WorkerPool, info: PackageInfo, names: list[str]) -> dict[str, threading.Event]:
    done = {name: threading.Event() for name in names}
    outcomes: dict[str, TaskOutcome] = {}

    def on_done(outcome: TaskOutcome, name: str) -> None:
        outcomes[name] = outcome
        done[name].set()

    pool.submit_many([(info, TaskRequest(name, info.tenant, f"ex-{name}", "main", "report", 1, {}),
                       lambda o, name=name: on_done(o, name)) for name in names])
    for name in names:
        assert done[name].wait(30), f"{name} did not finish"
        assert outcomes[name].status == "succeeded", outcomes[name]
    return done


def test_runs_submitted_together_reach_their_worker_in_one_write(
        env: Env, built: dict[str, Path], pool: WorkerPool) -> None:
    env.tenant("acme")
    info = env.registry.register(built["alpha1"], "acme")
    # While the worker loads: the load frame, then every waiting run in one write once it is ready.
    _submit_together(pool, info, [f"a{i}" for i in range(5)])
    worker = pool._workers[("acme", "alpha", "1.0.0")]
    assert worker.writer.writes == 2
    # Ready: one write per batch, whatever its size.
    for size in (1, 12, 30):
        before = worker.writer.writes
        _submit_together(pool, info, [f"b{size}-{i}" for i in range(size)])
        assert worker.writer.writes - before == 1, size
