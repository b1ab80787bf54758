"""The `child_workflows` sample, built, signed, registered for a tenant and run in its worker."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest
from support.hosting import packaged_host
from support.waiting import execution_state, task_state

from wfhost import Host


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Host]:
    with packaged_host(tmp_path_factory.mktemp("child_workflows"), ["child_workflows"]) as h:
        yield h


def test_a_failing_chunk_is_reported_and_the_others_kept(host: Host) -> None:
    eid = host.client.schedule("child_workflows::chunked_job",
                               {"items": [1, 2, 3, 4, -5, 6, 7], "chunk_size": 3}, id="job-1")
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    out = st["output"]
    assert out["succeeded_chunks"] == [0, 2] and out["total"] == (1 + 2 + 3 + 7) * 2
    (failed,) = out["failed_chunks"]
    assert failed["id"] == "job-1.chunk-1" and failed["status"] == "failed"
    assert "invalid values [-5]" in failed["error"]
    assert [(c["id"], c["status"]) for c in st["children"]] == [
        ("job-1.chunk-0", "succeeded"), ("job-1.chunk-1", "failed"), ("job-1.chunk-2", "succeeded")]
    child = host.client.status("job-1.chunk-0")
    assert child["parent"] == "job-1"
    assert (child["workflow"], child["version"]) == ("child_workflows::chunk_processor", "1.0.0")


def test_fan_out_gathers_every_child_then_fans_in(host: Host) -> None:
    eid = host.client.schedule("child_workflows::fan_out_fan_in",
                               {"items": [1, 2, 3, "x", 4]}, id="fan-1")
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert (st["output"]["succeeded"], st["output"]["failed"], st["output"]["total"]) == (4, 1, 30)
    bad = [r for r in st["output"]["results"] if not r["ok"]]
    assert [r["id"] for r in bad] == ["fan-1.item-3"] and "invalid item 'x'" in bad[0]["error"]
    assert len(st["children"]) == 5


def test_map_reduce_counts_words_with_map_and_reduce_children(host: Host) -> None:
    documents = ["the cat sat", "The dog sat down.", "a cat, a dog; the end"]
    eid = host.client.schedule("child_workflows::map_reduce",
                               {"documents": documents, "reducers": 2}, id="wc-1")
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    expected = Counter(w.strip(".,;") for d in documents for w in d.lower().split())
    assert st["output"]["word_counts"] == dict(sorted(expected.items()))
    assert sorted(c["id"] for c in st["children"]) == [
        "wc-1.map-0", "wc-1.map-1", "wc-1.map-2", "wc-1.reduce-0", "wc-1.reduce-1"]


STORES = {
    "s1": [{"sku": "a1", "qty": 2, "price": 5}, {"sku": "a2", "qty": 1, "price": 10}],
    "s2": [{"sku": "b1", "qty": 3, "price": 7}],
}


def test_region_store_item_hierarchy_rolls_up(host: Host) -> None:
    eid = host.client.schedule("child_workflows::region_report",
                               {"region": "north", "stores": STORES}, id="north-1")
    st = host.wait(eid, timeout=30)
    assert st["status"] == "succeeded", st["error"]
    assert st["output"]["per_store"] == {"s1": 20, "s2": 21}
    assert st["output"]["region_value"] == 41
    item = host.client.status("north-1.s1.a2")
    assert item["parent"] == "north-1.s1" and item["output"] == {"value": 10}
    assert host.client.status("north-1.s1")["parent"] == "north-1"


def test_cancelling_the_region_cancels_every_store_and_item(host: Host) -> None:
    eid = host.client.schedule("child_workflows::region_report",
                               {"region": "south", "stores": STORES, "hold": ["a1", "b1"]},
                               id="south-1")
    for held in ("south-1.s1.a1", "south-1.s2.b1"):
        task_state(host.client, held, "value_item", "waiting")
    # The store's task resumes as each of its items finishes: wait until it waits on the held one.
    store_task = host.client.status("south-1.s1")["tasks"][0]["task"]
    waiting = task_state(host.client, "south-1.s1", store_task, "waiting")
    assert "child 'south-1.s1.a1'" in waiting["waiting_for"]
    host.client.cancel(eid, reason="region closed")

    assert host.wait(eid, timeout=30)["status"] == "cancelled"
    for store in ("south-1.s1", "south-1.s2"):
        st = execution_state(host.client, store, "cancelled")
        assert st["cancelled_by"] == "parent south-1: parent cancelled"
    for held in ("south-1.s1.a1", "south-1.s2.b1"):
        st = execution_state(host.client, held, "cancelled")
        assert st["cancelled_by"].startswith("parent south-1.s")
    # The item that was not held had already finished; cancelling does not undo it.
    assert host.client.status("south-1.s1.a2")["status"] == "succeeded"
