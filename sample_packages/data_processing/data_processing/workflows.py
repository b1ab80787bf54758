"""The workflows of package `data_processing`: collect_data -> process_data -> generate_report.

Each task reads what the tasks before it wrote to the context and adds its
own result: ``raw_data`` -> ``processed_data`` -> ``final_report``.
``process_data`` is retried up to three times; start an execution with
``{"fail_first_attempts": 1}`` to see its first attempt fail and the retry
succeed. Everything is deterministic: the same input gives the same report.
"""

from __future__ import annotations

from typing import Any

from wfpkg import Context, RetryPolicy, TaskError, Workflow, hookimpl

pipeline = Workflow("data_processing", description="collect -> process -> report")

DEFAULT_SOURCES = ("sensors", "orders", "weblogs")


@pipeline.task()
def collect_data(ctx: Context) -> None:
    """Gather records from each source named in the input (``sources``)."""
    sources = list(ctx.get("sources", DEFAULT_SOURCES))
    per_source = int(ctx.get("records_per_source", 4))
    ctx["raw_data"] = [
        {"source": source, "seq": i, "value": (len(source) * 7 + i * 3) % 20}
        for source in sources
        for i in range(per_source)
    ]


@pipeline.task(depends_on=[collect_data], retry=RetryPolicy(attempts=3, backoff=0.05, jitter=0.0))
def process_data(ctx: Context) -> None:
    """Validate and transform the raw records; fails its first N attempts if asked to."""
    if ctx.attempt <= int(ctx.get("fail_first_attempts", 0)):
        raise TaskError(f"simulated failure on attempt {ctx.attempt} (fail_first_attempts)")
    threshold = int(ctx.get("threshold", 10))
    valid = [r for r in ctx["raw_data"] if isinstance(r.get("value"), int)]
    ctx["processed_data"] = [
        {**r, "scaled": r["value"] * 2, "flag": r["value"] >= threshold} for r in valid
    ]
    ctx["process_attempts"] = ctx.attempt


@pipeline.task(depends_on=[process_data])
def generate_report(ctx: Context) -> dict[str, Any]:
    """Summarize the processed records per source."""
    processed = ctx["processed_data"]
    by_source: dict[str, dict[str, int]] = {}
    for r in processed:
        row = by_source.setdefault(r["source"], {"records": 0, "total": 0, "flagged": 0})
        row["records"] += 1
        row["total"] += r["scaled"]
        row["flagged"] += int(r["flag"])
    return {
        "final_report": {
            "records": len(processed),
            "total": sum(r["total"] for r in by_source.values()),
            "flagged": sum(r["flagged"] for r in by_source.values()),
            "by_source": dict(sorted(by_source.items())),
            "process_attempts": ctx["process_attempts"],
        }
    }


@hookimpl
def wfhost_workflows() -> list[Workflow]:
    """The workflows this package provides."""
    return [pipeline]
