"""Wake-ups reach running hosts at once: UDP on this machine, LISTEN/NOTIFY on PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path

from support.databases import postgres_database

from wfhost.engine.notify import PgListener, WakeListener, live_hosts, notify_hosts
from wfhost.store import migrate, open_engine


def test_running_hosts_are_listed_live_and_told_of_new_work(tmp_path: Path) -> None:
    from wfhost import Host

    engine = open_engine(f"sqlite:///{tmp_path / 'wfhost.db'}")
    with Host(home=tmp_path) as host:
        [(host_id, port)] = live_hosts(engine)
        assert host_id == host.host_id and port
        assert notify_hosts(engine) == 1
    assert live_hosts(engine) == []  # a closed host is no longer live
    engine.dispose()


def test_a_wake_listener_hears_a_datagram() -> None:
    import socket

    woken = threading.Event()
    listener = WakeListener(woken.set)
    listener.start()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(b"wake", ("127.0.0.1", listener.port))
        assert woken.wait(10)
    finally:
        listener.close()


def test_postgres_notify_reaches_a_listener() -> None:
    with postgres_database() as url:
        engine = open_engine(url)
        migrate(engine)
        woken = threading.Event()
        listener = PgListener(url, woken.set)
        listener.start()
        try:
            notify_hosts(engine)
            assert woken.wait(10), "LISTEN wfhost never heard the NOTIFY"
        finally:
            listener.close()
            engine.dispose()


def test_a_host_ignores_its_own_postgres_notify() -> None:
    # A host that created work woke its own scheduler already and tells only the others:
    # hearing its own NOTIFY would cost it a scan turn per signal.
    with postgres_database() as url:
        engine = open_engine(url)
        migrate(engine)
        heard: list[int] = []
        woken = threading.Event()

        def wake() -> None:
            heard.append(1)
            woken.set()

        listener = PgListener(url, wake, ignore="host-a")
        listener.start()
        try:
            notify_hosts(engine, exclude="host-a")  # from itself: delivered first, ignored
            notify_hosts(engine, exclude="host-b")  # from another host
            assert woken.wait(10), "LISTEN wfhost never heard the other host's NOTIFY"
            assert heard == [1]
        finally:
            listener.close()
            engine.dispose()
