"""The DAG scheduler through a real Host: ordering, context flow, retries, timeouts, trigger rules."""

from __future__ import annotations

import threading
import time
from collections import Counter

import pytest

from wfhost import Conflict, Host, InvalidRequest, NotFound
from wfpkg import Context, FatalTaskError, RetryPolicy, TriggerRule, When, Workflow


def run(host: Host, wf: Workflow, input: dict | None = None, **kw) -> dict:  # noqa: A002
    host.add_workflow(wf)
    eid = host.client.schedule(f"local::{wf.name}", input or {}, **kw)
    return host.wait(eid, timeout=60)


def tasks_by_id(state: dict) -> dict[str, dict]:
    return {t["task"]: t for t in state["tasks"]}


def test_diamond_runs_each_task_once_after_its_dependencies(host: Host) -> None:
    order: list[str] = []
    wf = Workflow("diamond")

    @wf.task
    def a(ctx: Context) -> None:
        order.append("a")
        ctx["a"] = ctx["seed"]

    @wf.task(depends_on=[a])
    def b(ctx: Context) -> None:
        order.append("b")
        ctx["b"] = ctx["a"] + 1

    @wf.task(depends_on=[a])
    def c(ctx: Context) -> None:
        order.append("c")
        ctx["c"] = ctx["a"] + 2

    @wf.task(depends_on=[b, c])
    def d(ctx: Context) -> None:
        order.append("d")
        ctx["d"] = ctx["b"] * ctx["c"]

    state = run(host, wf, {"seed": 10})
    assert state["status"] == "succeeded"
    assert state["output"] == {"a": 10, "b": 11, "c": 12, "d": 132}
    assert order[0] == "a" and order[-1] == "d" and sorted(order) == ["a", "b", "c", "d"]
    assert all(t["state"] == "succeeded" and t["attempts"] == 1 for t in state["tasks"])


def test_wide_fan_out_of_500_tasks_fans_in(host: Host) -> None:
    wf = Workflow("fan")

    @wf.task
    def start(ctx: Context) -> None:
        ctx["width"] = 500

    leaves = []
    for i in range(500):
        def leaf(ctx: Context, i: int = i) -> None:
            ctx[f"leaf_{i}"] = i * 2
        wf.add_task(leaf, id=f"leaf_{i}", depends_on=[start])
        leaves.append(f"leaf_{i}")

    def total(ctx: Context) -> None:
        leaves_seen = {k: v for k, v in ctx.items() if k.startswith("leaf_")}
        ctx["total"] = sum(leaves_seen.values())
        ctx["count"] = len(leaves_seen)
        ctx["saw_width"] = "width" in ctx  # only direct upstream outputs flow in

    wf.add_task(total, id="total", depends_on=leaves)
    state = run(host, wf)
    assert state["status"] == "succeeded"
    assert state["output"]["total"] == sum(i * 2 for i in range(500))
    assert state["output"]["count"] == 500 and state["output"]["saw_width"] is False
    assert len(state["tasks"]) == 502


def test_long_chain_of_200_tasks_passes_context_along(host: Host) -> None:
    wf = Workflow("chain")
    prev = None
    for i in range(200):
        def step(ctx: Context) -> None:
            ctx["n"] = ctx.get("n", 0) + 1
        wf.add_task(step, id=f"t{i}", depends_on=[prev] if prev else [])
        prev = f"t{i}"
    state = run(host, wf)
    assert state["status"] == "succeeded"
    assert state["output"]["n"] == 200


def test_failing_task_is_retried_until_it_succeeds(host: Host) -> None:
    wf = Workflow("flaky")

    @wf.task(retry=RetryPolicy(attempts=3, backoff=0.01, jitter=0.5))
    def flaky(ctx: Context) -> None:
        if ctx.attempt < 3:
            raise ValueError(f"attempt {ctx.attempt} fails")
        ctx["ok_on"] = ctx.attempt

    state = run(host, wf)
    assert state["status"] == "succeeded"
    assert state["output"] == {"ok_on": 3}
    assert tasks_by_id(state)["flaky"]["attempts"] == 3
    kinds = Counter(e["kind"] for e in host.client.history(state["id"]))
    assert kinds["task_retrying"] == 2 and kinds["task_succeeded"] == 1


def test_exhausted_retries_fail_the_execution_and_skip_downstream(host: Host) -> None:
    wf = Workflow("doomed")

    @wf.task(retry=RetryPolicy(attempts=2, backoff=0.01))
    def breaks(ctx: Context) -> None:
        raise RuntimeError("disk on fire")

    @wf.task(depends_on=[breaks])
    def after(ctx: Context) -> None:
        ctx["ran"] = True

    @wf.task(depends_on=[after])
    def later(ctx: Context) -> None:
        ctx["ran_too"] = True

    state = run(host, wf)
    tasks = tasks_by_id(state)
    assert state["status"] == "failed"
    assert "breaks" in state["error"] and "RuntimeError: disk on fire" in state["error"]
    assert tasks["breaks"]["state"] == "failed" and tasks["breaks"]["attempts"] == 2
    assert tasks["after"]["state"] == "skipped" and tasks["later"]["state"] == "skipped"
    assert state["output"] is None


def test_fatal_error_and_non_retryable_types_are_not_retried(host: Host) -> None:
    wf = Workflow("fatal")

    @wf.task(retry=RetryPolicy(attempts=5, backoff=0.01))
    def fatal(ctx: Context) -> None:
        raise FatalTaskError("bad input, retrying will not help")

    @wf.task(retry=RetryPolicy(attempts=5, backoff=0.01, retry_on=(ConnectionError,)))
    def picky(ctx: Context) -> None:
        raise KeyError("not retryable by policy")

    state = run(host, wf)
    tasks = tasks_by_id(state)
    assert tasks["fatal"]["attempts"] == 1 and tasks["picky"]["attempts"] == 1
    assert state["status"] == "failed"


def test_task_timeout_fails_the_attempt_and_retries(host: Host) -> None:
    release = threading.Event()
    wf = Workflow("slow")

    @wf.task(timeout=0.3, retry=RetryPolicy(attempts=2, backoff=0.01))
    def slow(ctx: Context) -> None:
        if ctx.attempt == 1:
            release.wait(10)  # outlives its timeout; released at the end of the test
        ctx["attempt"] = ctx.attempt

    try:
        state = run(host, wf)
    finally:
        release.set()
    assert state["status"] == "succeeded"
    assert state["output"] == {"attempt": 2}
    retried = [e for e in host.client.history(state["id"]) if e["kind"] == "task_retrying"]
    assert len(retried) == 1 and "TaskTimeout" in retried[0]["error"]


def test_execution_timeout_fails_the_execution(host: Host) -> None:
    release = threading.Event()
    wf = Workflow("bounded", timeout=0.3)

    @wf.task
    def forever(ctx: Context) -> None:
        release.wait(10)

    @wf.task(depends_on=[forever])
    def never(ctx: Context) -> None:
        ctx["ran"] = True

    try:
        state = run(host, wf)
    finally:
        release.set()
    assert state["status"] == "failed"
    assert "timeout" in state["error"]
    assert tasks_by_id(state)["never"]["state"] in ("cancelled", "skipped")


def test_context_merges_upstream_outputs_in_declared_order_later_wins(host: Host) -> None:
    wf = Workflow("merge")

    @wf.task
    def left(ctx: Context) -> None:
        ctx.update(who="left", left_only=1)

    @wf.task
    def right(ctx: Context) -> None:
        ctx.update(who="right", right_only=2)

    @wf.task(depends_on=[right, left])
    def join(ctx: Context) -> None:
        ctx["saw"] = {"who": ctx["who"], "left": ctx["left_only"], "right": ctx["right_only"],
                      "input": ctx["who_input"]}

    state = run(host, wf, {"who": "input", "who_input": "kept"})
    assert state["output"]["saw"] == {"who": "left", "left": 1, "right": 2, "input": "kept"}


def test_schedule_with_the_same_id_is_idempotent(host: Host) -> None:
    runs: list[int] = []
    wf = Workflow("once")

    @wf.task
    def only(ctx: Context) -> None:
        runs.append(1)
        ctx["x"] = ctx["x_in"]

    host.add_workflow(wf)
    first = host.client.schedule("local::once", {"x_in": 1}, id="order-42")
    second = host.client.schedule("local::once", {"x_in": 1}, id="order-42")
    assert first == second == "order-42"
    assert host.wait("order-42", timeout=30)["status"] == "succeeded"
    assert host.client.schedule("local::once", {"x_in": 1}, id="order-42") == "order-42"
    assert runs == [1]
    with pytest.raises(Conflict, match="order-42"):
        host.client.schedule("local::once", {"x_in": 2}, id="order-42")
    assert len(host.client.executions(workflow="local::once")) == 1


def test_trigger_rules_express_cleanup_and_compensation(host: Host) -> None:
    wf = Workflow("saga")

    @wf.task
    def reserve(ctx: Context) -> None:
        ctx["reserved"] = True

    @wf.task(depends_on=[reserve])
    def charge(ctx: Context) -> None:
        raise RuntimeError("card declined")

    @wf.task(depends_on=[reserve, charge], trigger=TriggerRule.ANY_FAILED)
    def release_stock(ctx: Context) -> None:
        ctx["released"] = ctx["reserved"]

    @wf.task(depends_on=[charge], trigger=TriggerRule.NONE_FAILED)
    def ship(ctx: Context) -> None:
        ctx["shipped"] = True

    @wf.task(depends_on=[release_stock, ship], trigger=TriggerRule.ALL_DONE)
    def audit(ctx: Context) -> None:
        ctx["audited"] = True

    state = run(host, wf)
    tasks = tasks_by_id(state)
    assert tasks["release_stock"]["state"] == "succeeded"
    assert tasks["release_stock"]["output"] == {"released": True}
    assert tasks["ship"]["state"] == "skipped"
    assert tasks["audit"]["state"] == "succeeded"
    assert state["status"] == "failed" and "card declined" in state["error"]


def test_condition_on_a_context_value_skips_or_runs(host: Host) -> None:
    wf = Workflow("gate")

    @wf.task
    def price(ctx: Context) -> None:
        ctx["amount"] = ctx["cost"]

    @wf.task(depends_on=[price], when=When("amount", "<", 1000))
    def auto_approve(ctx: Context) -> None:
        ctx["approved"] = "auto"

    @wf.task(depends_on=[price], when=When("amount", ">=", 1000))
    def escalate(ctx: Context) -> None:
        ctx["approved"] = "escalated"

    small = run(host, wf, {"cost": 10})
    big = run(host, wf, {"cost": 5000})
    assert small["output"]["approved"] == "auto"
    assert tasks_by_id(small)["escalate"]["state"] == "skipped"
    assert big["output"]["approved"] == "escalated"
    assert tasks_by_id(big)["auto_approve"]["state"] == "skipped"


def test_bad_requests_are_refused_with_a_clear_error(sqlite_host: Host) -> None:
    wf = Workflow("ok")
    wf.add_task(lambda ctx: None, id="t")
    sqlite_host.add_workflow(wf)
    with pytest.raises(NotFound, match="nope"):
        sqlite_host.client.status("nope")
    with pytest.raises(InvalidRequest, match="workflow"):
        sqlite_host.client.schedule("Not A Name", {})
    with pytest.raises(NotFound, match="missing"):
        sqlite_host.client.schedule("local::missing", {})
    with pytest.raises(InvalidRequest, match="not JSON"):
        sqlite_host.client.schedule("local::ok", {"when": object()})
    with pytest.raises(InvalidRequest, match="execution id"):
        sqlite_host.client.schedule("local::ok", {}, id="has space")
    assert sqlite_host.client.executions() == []


def test_host_concurrency_limit_is_respected(tmp_path) -> None:  # noqa: ANN001
    lock = threading.Lock()
    active = [0]
    peak = [0]
    wf = Workflow("busy")
    for i in range(12):
        def work(ctx: Context) -> None:
            with lock:
                active[0] += 1
                peak[0] = max(peak[0], active[0])
            time.sleep(0.02)  # gives overlapping tasks a chance to exist; not synchronisation
            with lock:
                active[0] -= 1
        wf.add_task(work, id=f"w{i}")
    with Host(home=tmp_path, max_concurrency=3) as h:
        state = run(h, wf)
    assert state["status"] == "succeeded"
    assert 1 <= peak[0] <= 3


def test_tenant_concurrency_limit_keeps_one_tenant_from_taking_every_slot(tmp_path) -> None:  # noqa: ANN001
    lock = threading.Lock()
    active: Counter[str] = Counter()
    peak: Counter[str] = Counter()
    wf = Workflow("tenanted")
    for i in range(6):
        def work(ctx: Context) -> None:
            with lock:
                active[ctx.tenant] += 1
                peak[ctx.tenant] = max(peak[ctx.tenant], active[ctx.tenant])
            time.sleep(0.02)  # gives overlapping tasks a chance to exist; not synchronisation
            with lock:
                active[ctx.tenant] -= 1
        wf.add_task(work, id=f"w{i}")
    with Host(home=tmp_path, max_concurrency=8, tenant_concurrency=2) as h:
        for tenant in ("red", "blue"):
            h.add_workflow(wf, tenant=tenant)
        ids = [h.client.schedule("local::tenanted", {}, tenant=t) for t in ("red", "blue")]
        states = [h.wait(eid, tenant=t, timeout=60) for eid, t in zip(ids, ("red", "blue"), strict=True)]
    assert all(s["status"] == "succeeded" for s in states)
    assert 1 <= peak["red"] <= 2 and 1 <= peak["blue"] <= 2
