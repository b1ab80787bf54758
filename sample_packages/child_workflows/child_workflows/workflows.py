"""The workflows of package `child_workflows`: parents that start, await and aggregate children.

``chunked_job`` / ``chunk_processor``
    Splits ``items`` into chunks of ``chunk_size`` and starts one
    ``chunk_processor`` child per chunk (ids ``<job id>.chunk-<n>``), then
    awaits each with ``handle.result()``. A chunk holding a negative number
    fails; the parent catches `ChildWorkflowError` and reports it with the
    chunks that succeeded. A chunk with ``hold`` in its input waits for a
    ``release`` signal (so a test can cancel the parent while children run).

``fan_out_fan_in`` / ``item_processor``
    One ``item_processor`` child per item, awaited together with
    `Context.gather` (a failed child is a result with ``ok`` false, not an
    exception); ``aggregate`` then totals what succeeded.

``map_reduce`` / ``map_words`` / ``reduce_counts``
    Map: a child per document counts its words. Shuffle: words are split
    into ``reducers`` partitions by a stable hash. Reduce: a child per
    partition sums the counts. The result is the total count per word.

``region_report`` / ``store_report`` / ``item_valuation``
    Three levels: a region starts a child per store, a store a child per
    item. Cancelling the region cancels every store and item below it.
    Items whose ``sku`` is listed in the region's ``hold`` wait for a
    ``release`` signal first.
"""

from __future__ import annotations

import zlib
from typing import Any

from wfpkg import ChildWorkflowError, Context, FatalTaskError, Workflow, hookimpl

DAY = 24 * 3600.0


def _hold(ctx: Context) -> None:
    """Wait for ``release`` when the input asks to (a long wait a cancel can interrupt)."""
    if ctx.get("hold"):
        ctx.wait_for_signal("release", timeout=float(ctx.get("hold_seconds", DAY)))


# -- per-chunk children --------------------------------------------------------------------

chunked_job = Workflow("chunked_job", description="a child per chunk; failed chunks are reported")


@chunked_job.task()
def split(ctx: Context) -> None:
    """Cut ``items`` into chunks of ``chunk_size``."""
    items = list(ctx["items"])
    size = max(1, int(ctx.get("chunk_size", 3)))
    ctx["chunks"] = [items[i:i + size] for i in range(0, len(items), size)]


@chunked_job.task(depends_on=[split])
def process_chunks(ctx: Context) -> None:
    """Start a child per chunk, then await each; a failing chunk is caught and reported."""
    hold = bool(ctx.get("hold"))
    handles = [
        ctx.start_child("chunk_processor", {"chunk": chunk, "chunk_id": n, "hold": hold},
                        id=f"{ctx.execution_id}.chunk-{n}", timeout=ctx.get("child_timeout_seconds"))
        for n, chunk in enumerate(ctx["chunks"])
    ]
    succeeded: list[dict[str, Any]] = []
    failed: list[dict[str, Any]] = []
    for handle in handles:
        try:
            succeeded.append(handle.result())
        except ChildWorkflowError as exc:
            failed.append({"id": exc.child_id, "status": exc.status, "error": exc.error})
    ctx.update(
        succeeded_chunks=[r["chunk_id"] for r in succeeded],
        failed_chunks=failed,
        total=sum(r["sum"] for r in succeeded),
    )


chunk_processor = Workflow("chunk_processor", description="process one chunk of a job")


@chunk_processor.task()
def process_chunk(ctx: Context) -> None:
    """Double each value of the chunk; a negative value fails the chunk."""
    _hold(ctx)
    chunk = list(ctx["chunk"])
    bad = [x for x in chunk if not isinstance(x, int) or x < 0]
    if bad:
        raise FatalTaskError(f"chunk {ctx['chunk_id']} holds invalid values {bad}")
    processed = [x * 2 for x in chunk]
    ctx.update(chunk_id=ctx["chunk_id"], processed=processed, sum=sum(processed))


# -- fan-out / fan-in -----------------------------------------------------------------------

fan_out_fan_in = Workflow("fan_out_fan_in", description="a child per item, gathered, then aggregated")


@fan_out_fan_in.task()
def fan_out(ctx: Context) -> None:
    """Start a child per item and gather them all."""
    handles = [
        ctx.start_child("item_processor", {"item": item}, id=f"{ctx.execution_id}.item-{n}")
        for n, item in enumerate(ctx["items"])
    ]
    results = ctx.gather(handles)
    ctx["results"] = [
        {"id": r.id, "ok": r.ok, "value": (r.output or {}).get("value"), "error": r.error}
        for r in results
    ]


@fan_out_fan_in.task(depends_on=[fan_out])
def aggregate(ctx: Context) -> None:
    """Fan-in: total the successful results, count the failures."""
    ok = [r for r in ctx["results"] if r["ok"]]
    ctx.update(succeeded=len(ok), failed=len(ctx["results"]) - len(ok),
               total=sum(r["value"] for r in ok))


item_processor = Workflow("item_processor", description="validate and transform one item")


@item_processor.task()
def transform(ctx: Context) -> None:
    """Square a non-negative integer item; anything else fails the child."""
    item = ctx["item"]
    if not isinstance(item, int) or item < 0:
        raise FatalTaskError(f"invalid item {item!r}")
    ctx["value"] = item * item


# -- map-reduce -----------------------------------------------------------------------------

map_reduce = Workflow("map_reduce", description="word count: map children, shuffle, reduce children")


def partition(word: str, reducers: int) -> int:
    """A stable partition (Python's ``hash`` of a str changes between processes)."""
    return zlib.crc32(word.encode()) % reducers


@map_reduce.task()
def map_phase(ctx: Context) -> None:
    """A ``map_words`` child per document."""
    handles = [ctx.start_child("map_words", {"text": text}, id=f"{ctx.execution_id}.map-{n}")
               for n, text in enumerate(ctx["documents"])]
    ctx["mapped"] = [h.result()["counts"] for h in handles]


@map_reduce.task(depends_on=[map_phase])
def reduce_phase(ctx: Context) -> None:
    """Shuffle the map outputs into partitions and reduce each in a child."""
    reducers = max(1, int(ctx.get("reducers", 2)))
    parts: list[list[dict[str, int]]] = [[] for _ in range(reducers)]
    for counts in ctx["mapped"]:
        split_counts: list[dict[str, int]] = [{} for _ in range(reducers)]
        for word, n in counts.items():
            split_counts[partition(word, reducers)][word] = n
        for p, c in enumerate(split_counts):
            if c:
                parts[p].append(c)
    handles = [ctx.start_child("reduce_counts", {"parts": p}, id=f"{ctx.execution_id}.reduce-{i}")
               for i, p in enumerate(parts)]
    word_counts: dict[str, int] = {}
    for result in ctx.gather(handles):
        if not result.ok:
            raise FatalTaskError(f"reducer {result.id} {result.status}: {result.error}")
        word_counts.update((result.output or {})["counts"])
    ctx["word_counts"] = dict(sorted(word_counts.items()))


map_words = Workflow("map_words", description="count the words of one document")


@map_words.task()
def count_words(ctx: Context) -> None:
    """Lowercased word counts of ``text``."""
    counts: dict[str, int] = {}
    for word in str(ctx["text"]).lower().split():
        word = word.strip(".,;:!?\"'()")
        if word:
            counts[word] = counts.get(word, 0) + 1
    ctx["counts"] = counts


reduce_counts = Workflow("reduce_counts", description="sum word counts of one partition")


@reduce_counts.task()
def sum_counts(ctx: Context) -> None:
    """Sum the partial counts."""
    total: dict[str, int] = {}
    for part in ctx["parts"]:
        for word, n in part.items():
            total[word] = total.get(word, 0) + n
    ctx["counts"] = total


# -- hierarchy: region -> store -> item ------------------------------------------------------

region_report = Workflow("region_report", description="a child per store, each a child per item")


@region_report.task()
def stores(ctx: Context) -> None:
    """Start a ``store_report`` per store and sum their values."""
    handles = [
        ctx.start_child("store_report", {"store": name, "items": items, "hold": ctx.get("hold", [])},
                        id=f"{ctx.execution_id}.{name}")
        for name, items in sorted(ctx["stores"].items())
    ]
    per_store = {r["store"]: r["store_value"] for r in (h.result() for h in handles)}
    ctx.update(region=ctx["region"], per_store=per_store, region_value=sum(per_store.values()))


store_report = Workflow("store_report", description="a child per item of one store")


@store_report.task()
def items(ctx: Context) -> None:
    """Start an ``item_valuation`` per item and sum their values."""
    hold = set(ctx.get("hold", []))
    handles = [
        ctx.start_child("item_valuation", {"item": item, "hold": item["sku"] in hold},
                        id=f"{ctx.execution_id}.{item['sku']}")
        for item in ctx["items"]
    ]
    values = [h.result()["value"] for h in handles]
    ctx.update(store=ctx["store"], store_value=sum(values))


item_valuation = Workflow("item_valuation", description="value one stock item")


@item_valuation.task()
def value_item(ctx: Context) -> None:
    """Quantity times price (after an optional hold)."""
    _hold(ctx)
    item = ctx["item"]
    ctx["value"] = int(item["qty"]) * int(item["price"])


@hookimpl
def wfhost_workflows() -> list[Workflow]:
    """The workflows this package provides."""
    return [
        chunked_job, chunk_processor,
        fan_out_fan_in, item_processor,
        map_reduce, map_words, reduce_counts,
        region_report, store_report, item_valuation,
    ]
