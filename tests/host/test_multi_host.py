"""Two host processes share one PostgreSQL database: every task runs once, and both do work."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter
from pathlib import Path

from support.databases import postgres_database
from support.waiting import until

from wfhost import Client
from wfhost.store import migrate, open_engine

HERE = Path(__file__).parent
EXECUTIONS = 40


def test_two_hosts_on_postgres_split_the_work_and_run_each_task_once(tmp_path: Path) -> None:
    with postgres_database() as url:
        engine = open_engine(url)
        migrate(engine)  # once, before the hosts start
        engine.dispose()
        runs, go = tmp_path / "runs.txt", tmp_path / "go"
        homes = [tmp_path / f"home{i}" for i in range(2)]
        procs = [
            subprocess.Popen([sys.executable, str(HERE / "multi_host.py"), url, str(home),
                              str(runs), str(EXECUTIONS), str(go)])
            for home in homes
        ]
        until(lambda: all((h / "ready").exists() for h in homes) or any(
            p.poll() is not None for p in procs), "both hosts to be ready", timeout=60)
        go.touch()  # both start scheduling together
        for p in procs:
            assert p.wait(timeout=180) == 0
        with Client(tmp_path / "home0", database_url=url) as client:
            states = [client.status(f"multi-{k}") for k in range(EXECUTIONS)]
            listed = client.executions(limit=1000)
    assert all(s["status"] == "succeeded" and s["output"] == {"n": 5} for s in states)
    assert len(listed) == EXECUTIONS  # both hosts scheduled the same ids: no duplicates
    lines = [line.split() for line in runs.read_text().splitlines()]
    per_task = Counter((eid, task) for eid, task, _pid in lines)
    assert set(per_task.values()) == {1} and len(per_task) == EXECUTIONS * 5
    by_host = Counter(pid for _eid, _task, pid in lines)
    assert len(by_host) == 2, f"only one host did work: {by_host}"
