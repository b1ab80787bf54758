"""A signal sent while a wait is being opened (PostgreSQL, several writers at once) is not lost.

Each transaction would miss the other's uncommitted row: the wait would stay
open and the signal buffered, and the task would never resume. Both lock
their execution's row first (the signal with ``FOR KEY SHARE``, which also
waits for the scheduler recording the task's suspension), so the later one
sees the earlier one's rows.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from support.databases import postgres_database
from support.waiting import until

import wfhost.engine.durable as durable
from wfhost import Host
from wfpkg import Context, Workflow


def test_a_signal_racing_the_wait_it_satisfies_resumes_the_task(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    wf = Workflow("racing")

    @wf.task()
    def wait(ctx: Context) -> None:
        ctx["got"] = ctx.wait_for_signal("go")

    opened, finish = threading.Event(), threading.Event()
    resolve = durable.try_resolve

    def held_open(*args: Any, **kwargs: Any) -> Any:
        # The wait is written and found unsatisfied; its transaction stays open until told.
        result = resolve(*args, **kwargs)
        if not opened.is_set():
            opened.set()
            assert finish.wait(30)
        return result

    monkeypatch.setattr(durable, "try_resolve", held_open)
    with postgres_database() as url, Host(home=tmp_path, database_url=url) as host:
        host.add_workflow(wf)
        eid = host.client.schedule("local::racing", {})
        assert opened.wait(30), "the task never opened its wait"
        sender = threading.Thread(target=host.client.signal, args=(eid, "go", 7))
        sender.start()

        def blocked_or_sent() -> bool:  # the signal waits for the wait's lock (or went through)
            with host.engine.connect() as conn:
                waiting = conn.execute(text(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                    "AND datname = current_database()")).scalar()
            return bool(waiting) or not sender.is_alive()

        until(blocked_or_sent, "the signal to block on the wait's transaction or be sent")
        finish.set()
        sender.join(30)
        st = host.wait(eid, timeout=30)
        assert st["status"] == "succeeded", st["error"]
        assert st["output"] == {"got": 7}
