"""The data_processing sample behaves as its docs say: context flows, the retry is observable."""

from __future__ import annotations

import importlib.util
from types import ModuleType

import pytest
from support.packages import SAMPLES

from wfpkg import Context, TaskError, Workflow


@pytest.fixture(scope="module")
def module() -> ModuleType:
    path = SAMPLES / "data_processing" / "data_processing" / "workflows.py"
    spec = importlib.util.spec_from_file_location("sample_data_processing_workflows", path)
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(wf: Workflow, data: dict[str, object], failures: list[str]) -> dict[str, object]:
    """A tiny in-test scheduler: topological order, retries per policy, outputs merged."""
    state = dict(data)
    for task_id in wf.order():
        spec = wf.tasks[task_id]
        for attempt in range(1, spec.retry.attempts + 1):
            ctx = Context(state, task_id=task_id, attempt=attempt)
            try:
                returned = spec.fn(ctx)
            except TaskError as exc:
                failures.append(f"{task_id}#{attempt}: {exc}")
                continue
            state.update(ctx.output)
            state.update(returned or {})
            break
        else:
            raise AssertionError(f"{task_id} exhausted its retries")
    return state


def test_context_flows_collect_process_report(module: ModuleType) -> None:
    (wf,) = module.wfhost_workflows()
    failures: list[str] = []
    out = _run(wf, {}, failures)
    report = out["final_report"]
    assert failures == []
    assert report["records"] == 12 and report["process_attempts"] == 1
    assert sorted(report["by_source"]) == ["orders", "sensors", "weblogs"]
    assert out == _run(wf, {}, [])  # deterministic


def test_first_attempt_fails_then_retry_succeeds(module: ModuleType) -> None:
    (wf,) = module.wfhost_workflows()
    failures: list[str] = []
    out = _run(wf, {"fail_first_attempts": 1}, failures)
    assert failures == ["process_data#1: simulated failure on attempt 1 (fail_first_attempts)"]
    assert out["final_report"]["process_attempts"] == 2
    assert wf.tasks["process_data"].retry.attempts == 3
