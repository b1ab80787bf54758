"""The bench workloads on Luigi (local in-memory scheduler). Runs in bench/.peers/luigi (see bench/peers.py).

Usage: python luigi_bench.py WORKLOAD REPEAT
Prints one JSON list (one dict per repetition) on the last line of stdout.

Tasks have flat parameters: task ``i`` of a chain requires ``Step(run, i - 1)``
by its integer id, so a chain does not nest whole tasks as parameters.
Completion lives in memory (a set), as Luigi's local scheduler does: no
store, no durability — the reason it is a useful lower reference.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import time

import luigi

DONE: set[tuple[str, str, int]] = set()


class Step(luigi.Task):
    """Task ``i`` of chain ``run`` (requires ``i - 1``)."""

    run_id = luigi.Parameter()
    i = luigi.IntParameter()

    def requires(self):  # type: ignore[no-untyped-def]
        return [Step(run_id=self.run_id, i=self.i - 1)] if self.i > 0 else []

    def complete(self) -> bool:
        return ("step", self.run_id, self.i) in DONE

    def run(self) -> None:
        DONE.add(("step", self.run_id, self.i))


class Root(luigi.Task):
    run_id = luigi.Parameter()

    def complete(self) -> bool:
        return ("root", self.run_id, 0) in DONE

    def run(self) -> None:
        DONE.add(("root", self.run_id, 0))


class Leaf(luigi.Task):
    run_id = luigi.Parameter()
    i = luigi.IntParameter()

    def requires(self):  # type: ignore[no-untyped-def]
        return Root(run_id=self.run_id)

    def complete(self) -> bool:
        return ("leaf", self.run_id, self.i) in DONE

    def run(self) -> None:
        DONE.add(("leaf", self.run_id, self.i))


class Sink(luigi.Task):
    run_id = luigi.Parameter()
    n = luigi.IntParameter()

    def requires(self):  # type: ignore[no-untyped-def]
        return [Leaf(run_id=self.run_id, i=i) for i in range(self.n)]

    def complete(self) -> bool:
        return ("sink", self.run_id, 0) in DONE

    def run(self) -> None:
        DONE.add(("sink", self.run_id, 0))


def build(tasks: list[luigi.Task]) -> None:
    ok = luigi.build(tasks, local_scheduler=True, workers=1, log_level="ERROR")
    assert ok, "luigi.build failed"


def once(workload: str, k: int) -> dict[str, float]:
    run = f"r{k}-{time.time_ns()}"
    if workload == "chain":
        t = time.perf_counter()
        build([Step(run_id=run, i=99)])
        s = time.perf_counter() - t
        return {"seconds": s, "ms_per_task": s / 100 * 1000}
    if workload in ("fanout_sink", "fanout_sink2000"):
        n = 2000 if workload == "fanout_sink2000" else 500
        t = time.perf_counter()
        build([Sink(run_id=run, n=n)])
        s = time.perf_counter() - t
        return {"seconds": s, "ms_per_task": s / (n + 2) * 1000}
    if workload == "many":
        t = time.perf_counter()
        build([Step(run_id=f"{run}-{e}", i=2) for e in range(1000)])
        s = time.perf_counter() - t
        return {"seconds": s, "executions_per_s": 1000 / s}
    if workload == "start_exit":
        t = time.perf_counter()
        subprocess.run([sys.executable, __file__, "_one"], check=True)
        return {"seconds": time.perf_counter() - t}
    raise SystemExit(f"unknown workload {workload}")


if __name__ == "__main__":
    logging.getLogger("luigi").setLevel(logging.ERROR)
    logging.getLogger("luigi-interface").setLevel(logging.ERROR)
    if sys.argv[1] == "_one":
        build([Step(run_id="one", i=0)])
        sys.exit(0)
    workload, repeat = sys.argv[1], int(sys.argv[2])
    print(json.dumps([once(workload, k) for k in range(repeat)]))
