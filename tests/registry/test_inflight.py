"""`InFlight`, the one owner of running attempts: each is finished once, by whoever holds it."""

from __future__ import annotations

import threading

from wfpkg.protocol import TaskRequest
from wfregistry.inflight import Attempt, InFlight


def attempt(run_id: str, tenant: str = "acme", execution_id: str = "ex-1", task: str = "t") -> Attempt:
    return Attempt(TaskRequest(run_id, tenant, execution_id, "main", task, 1, {}), f"uid-{execution_id}")


def test_an_attempt_is_finished_exactly_once_even_when_raced() -> None:
    inflight = InFlight()
    inflight.add(attempt("r1"))
    got: list[Attempt | None] = []
    threads = [threading.Thread(target=lambda: got.append(inflight.finish("r1"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.run_id for a in got if a is not None] == ["r1"]
    assert inflight.count() == 0 and inflight.get("r1") is None


def test_only_the_holder_can_finish_an_attempt() -> None:
    inflight = InFlight()
    mine, theirs = object(), object()
    inflight.add(attempt("r1"))
    assert inflight.hold("r1", mine)
    assert inflight.finish("r1", holder=theirs) is None  # another worker is not believed
    assert inflight.held_by(mine)[0].run_id == "r1"
    assert inflight.finish("r1", holder=mine) is not None
    assert not inflight.hold("r1", mine)  # gone: nobody holds it any more


def test_counts_by_tenant_and_finding_by_task() -> None:
    inflight = InFlight()
    for a in (attempt("r1"), attempt("r2", task="u"), attempt("r3", tenant="globex", execution_id="ex-9")):
        inflight.add(a)
    assert inflight.count() == 3 and inflight.count("acme") == 2
    assert inflight.per_tenant() == {"acme": 2, "globex": 1}
    found = inflight.find("uid-ex-1", "u")
    assert found is not None and found.run_id == "r2"


def test_cancelling_marks_the_executions_attempts_of_that_tenant_only() -> None:
    inflight = InFlight()
    a, b, other = attempt("r1"), attempt("r2"), attempt("r3", tenant="globex")  # same execution id
    for x in (a, b, other):
        inflight.add(x)
    told = inflight.cancel("acme", "ex-1")
    assert {x.run_id for x in told} == {"r1", "r2"}
    assert inflight.is_cancelled(a) and inflight.is_cancelled(b) and not inflight.is_cancelled(other)
    # Forgetting the finished execution keeps the mark of attempts still running.
    inflight.forget("acme", "ex-1")
    assert inflight.is_cancelled(a)
    assert not inflight.is_cancelled(attempt("r4"))


def test_a_dead_workers_attempts_are_taken_out_together() -> None:
    inflight = InFlight()
    worker = object()
    for run_id in ("r1", "r2"):
        inflight.add(attempt(run_id))
        inflight.hold(run_id, worker)
    inflight.add(attempt("r3"))
    assert {a.run_id for a in inflight.finish_held_by(worker)} == {"r1", "r2"}
    assert [a.run_id for a in inflight.held_by(worker)] == [] and inflight.count() == 1
