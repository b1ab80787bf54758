"""Worker processes: isolation between tenants, crashes, cancellation, durable calls, logs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from support.packages import make_key

from wfregistry import PackageInfo, WorkerPool

if TYPE_CHECKING:
    from conftest import Calls, Env, Runs


def two_tenants(env: Env, built: dict[str, Path]) -> tuple[PackageInfo, PackageInfo, PackageInfo]:
    """acme has alpha 1.0.0; globex has its own alpha 1.0.0 (same module, other code) and beta."""
    env.tenant("acme")
    globex = env.tenant("globex", make_key(env.tmp, "globex"))
    acme_alpha = env.registry.register(built["alpha1"], "acme")
    globex_alpha = env.registry.register(env.signed(built["alpha1_globex"], globex), "globex")
    globex_beta = env.registry.register(env.signed(built["beta1"], globex), "globex")
    return acme_alpha, globex_alpha, globex_beta


def test_same_module_name_in_two_tenants_runs_each_own_code(
    env: Env, built: dict[str, Path], runs: Runs, pool: WorkerPool
) -> None:
    acme_alpha, globex_alpha, _ = two_tenants(env, built)
    a = runs.submit(acme_alpha, "report")
    g = runs.submit(globex_alpha, "report")
    out_a, out_g = runs.result(a), runs.result(g)
    assert out_a.status == out_g.status == "succeeded", (out_a, out_g)
    assert out_a.output["marker"] == "acme" and out_g.output["marker"] == "globex"
    assert out_a.output["module_file"].startswith(str(acme_alpha.install_dir))
    assert out_g.output["module_file"].startswith(str(globex_alpha.install_dir))
    assert out_a.output["pid"] != out_g.output["pid"]
    assert set(pool.live_workers()) == {"acme::alpha@1.0.0", "globex::alpha@1.0.0"}
    # The task printed: that went to the worker's log, not into the protocol.
    log = pool.log_dir / "acme__alpha__1.0.0.log"
    assert "report task of alpha running" in log.read_text()


def test_a_task_cannot_import_another_tenants_package(
    env: Env, built: dict[str, Path], runs: Runs
) -> None:
    acme_alpha, _, _ = two_tenants(env, built)
    outcome = runs.result(runs.submit(acme_alpha, "import_other", module="beta.workflows"))
    assert outcome.status == "failed"
    assert outcome.error is not None and outcome.error.startswith("ModuleNotFoundError")
    assert "beta" in outcome.error


def test_a_crashing_worker_fails_its_run_and_spares_other_tenants(
    env: Env, built: dict[str, Path], runs: Runs, calls: Calls, pool: WorkerPool
) -> None:
    acme_alpha, _, globex_beta = two_tenants(env, built)
    gate = env.tmp / "gate"
    other = runs.submit(globex_beta, "gate", gate=str(gate))
    assert calls.started(other).wait(30), "globex's run never started"
    crashed = runs.result(runs.submit(acme_alpha, "crash"))
    assert crashed.status == "failed" and crashed.retryable is True
    assert crashed.error == "worker for acme::alpha@1.0.0 died (exit code 1)"
    assert "acme::alpha@1.0.0" not in pool.live_workers()
    gate.touch()
    survivor = runs.result(other)
    assert survivor.status == "succeeded" and survivor.output["marker"] == "globex", survivor
    # The pool starts a new worker for the next run.
    again = runs.result(runs.submit(acme_alpha, "report"))
    assert again.status == "succeeded" and again.output["version"] == "1.0.0"


def test_cancel_execution_reaches_the_running_task(env: Env, built: dict[str, Path], runs: Runs,
                                                   calls: Calls, pool: WorkerPool) -> None:
    env.tenant("acme")
    info = env.registry.register(built["alpha1"], "acme")
    run = runs.submit(info, "until_cancelled", execution_id="ex-cancel-me")
    assert calls.started(run).wait(30)
    pool.cancel_execution("globex", "ex-cancel-me")  # another tenant: no effect
    pool.cancel_execution("acme", "ex-cancel-me")
    outcome = runs.result(run)
    assert outcome.status == "succeeded" and outcome.output == {"saw_cancel": True}


def test_a_durable_wait_suspends_through_the_worker(env: Env, built: dict[str, Path], runs: Runs) -> None:
    env.tenant("acme")
    info = env.registry.register(built["alpha1"], "acme")
    outcome = runs.result(runs.submit(info, "waits"))
    assert outcome.status == "suspended"
    assert outcome.waiting_for == "any(signal:go)"


def test_loading_that_misbehaves_fails_runs_and_keeps_the_pool_healthy(
    env: Env, built: dict[str, Path], tmp_path: Path, calls: Calls,
    install_unregistered: Callable[..., PackageInfo], runs_for: Callable[[WorkerPool], Runs],
) -> None:
    env.tenant("acme")
    good = env.registry.register(built["alpha1"], "acme")
    bad = {name: install_unregistered(built[name], env.author, "acme", tmp_path / "unregistered")
           for name in ("hangs", "raises", "prints")}
    expected = {
        "raises": "importing entry point 'raises' (raises.workflows) raised RuntimeError: "
                  "database unreachable at import",
        "prints": "printed to stdout while loading ('hello from import')",
        "hangs": "loading took longer than 2s (worker killed)",
    }
    with WorkerPool(calls, load_timeout=2.0, log_dir=tmp_path / "logs") as pool:
        runs = runs_for(pool)
        submitted = {name: runs.submit(info, "report") for name, info in bad.items()}
        for name, fragment in expected.items():
            outcome = runs.result(submitted[name])
            assert outcome.status == "failed" and outcome.retryable is False, outcome
            assert outcome.error is not None
            assert outcome.error.startswith(f"cannot load acme::{name}@1.0.0: {fragment}")
        assert pool.live_workers() == {}
        # The pool still runs a good package.
        outcome = runs.result(runs.submit(good, "report"))
        assert outcome.status == "succeeded" and outcome.output["version"] == "1.0.0"
