"""Hot swap: a new version takes new runs while a run in flight finishes on the old one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from support.packages import make_key

from wfpkg.names import parse_workflow_ref
from wfregistry import WorkerPool

if TYPE_CHECKING:
    from conftest import Calls, Env, Runs


def test_register_v2_while_v1_runs(
    env: Env, built: dict[str, Path], runs: Runs, calls: Calls, pool: WorkerPool
) -> None:
    env.tenant("acme")
    globex = env.tenant("globex", make_key(env.tmp, "globex"))
    v1 = env.registry.register(built["alpha1"], "acme")
    beta = env.registry.register(env.signed(built["beta1"], globex), "globex")

    old_run = runs.submit(v1, "gate")
    other_tenant = runs.submit(beta, "gate")
    assert calls.started(old_run).wait(30) and calls.started(other_tenant).wait(30)

    v2 = env.registry.register(built["alpha2"], "acme")
    active, _ = env.registry.resolve("acme", parse_workflow_ref("alpha::main", "acme"))
    assert active.id == v2.id and active.version == "2.0.0"
    assert env.registry.get(v1.id).state == "inactive"

    new_run = runs.submit(active, "report")
    new = runs.result(new_run)
    assert new.status == "succeeded" and new.output["version"] == "2.0.0"
    assert not runs.done[old_run].is_set(), "the v1 run should still be in flight"
    workers = pool.live_workers()
    assert {"acme::alpha@1.0.0", "acme::alpha@2.0.0", "globex::beta@1.0.0"} <= set(workers)
    assert workers["acme::alpha@1.0.0"] != workers["acme::alpha@2.0.0"]

    calls.gate.set()
    old = runs.result(old_run)
    assert old.status == "succeeded" and old.output["version"] == "1.0.0"
    untouched = runs.result(other_tenant)
    assert untouched.status == "succeeded" and untouched.output["package"] == "beta"
    assert env.registry.resolve("globex", parse_workflow_ref("beta::main", "globex"))[0].id == beta.id

    # Once drained, the old version's worker is stopped.
    pool.stop_version("acme", "alpha", "1.0.0")
    assert "acme::alpha@1.0.0" not in pool.live_workers()
