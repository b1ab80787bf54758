"""The dashboard in headless Chromium against a real service: what an operator clicks."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect
from support.serving import World, upload
from support.waiting import until

from .conftest import XSS

PA = "purchase_approval::purchase_approval"
DP = "data_processing::data_processing"
GREEN = "rgb(26,127,55)"


@pytest.fixture(scope="module")
def acme(world: World) -> str:
    return world.tenant("acme", ("purchase_approval", "data_processing"))


@pytest.fixture(scope="module")
def api(world: World, acme: str) -> Iterator[httpx.Client]:
    with world.srv.client(acme) as c:
        yield c


@pytest.fixture(scope="module")
def page(browser: Any, world: World, acme: str) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.on("dialog", lambda d: d.dismiss())  # no window.alert/confirm is ever used; fail closed if one is
    p.goto(world.srv.url + "/")
    p.fill("#token", acme)
    p.click("text=Log in")
    expect(p.locator("#who")).to_have_text("tenant acme")
    yield p
    context.close()


def start(api: httpx.Client, workflow: str, input: dict[str, Any], eid: str, **extra: Any) -> str:
    r = api.post("/v1/tenants/acme/executions", json={"workflow": workflow, "input": input, "id": eid, **extra})
    assert r.status_code == 201, r.text
    return eid


def status(api: httpx.Client, eid: str) -> str:
    return str(api.get(f"/v1/tenants/acme/executions/{eid}").json()["status"])


def dag(page: Page) -> dict[str, dict[str, str]]:
    return page.evaluate("window.wfDashboard.dagStates()")  # type: ignore[no-any-return]


def confirm(page: Page) -> None:
    expect(page.locator("#confirm")).to_be_visible()
    page.click("#confirm-yes")


def test_log_in_see_a_data_processing_execution_finish_and_log_out(browser: Any, world: World, acme: str,
                                                                    api: httpx.Client, shots: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.goto(world.srv.url + "/")
    p.fill("#token", "not-a-token")
    p.click("text=Log in")
    expect(p.locator("#login-error")).to_have_text("That token is not valid.")
    p.fill("#token", acme)
    p.keyboard.press("Enter")  # keyboard only
    expect(p.locator("#who")).to_have_text("tenant acme")
    assert acme not in p.url  # the token never goes in a URL
    start(api, DP, {"records_per_source": 3}, "report-1")
    row = p.locator('#executions tr[data-id="report-1"]')
    expect(row).to_have_attribute("data-status", "succeeded", timeout=20_000)  # the list refreshes live
    expect(row.locator(".state")).to_have_text("succeeded")  # the word, not only a colour
    p.click("text=report-1")
    expect(p.locator("#exec-head .state")).to_have_text("succeeded")
    until(lambda: all(t["state"] == "succeeded" for t in dag(p).values()), "the DAG to be green")
    expect(p.locator("#io")).to_contain_text('"final_report"')
    shots(p, "execution-succeeded")
    p.click("#logout")
    expect(p.locator("#login")).to_be_visible()
    assert p.evaluate("sessionStorage.getItem('wfhost.token')") is None
    context.close()


def test_open_a_waiting_purchase_approval_and_approve_it_from_the_page(page: Page, api: httpx.Client,
                                                                       shots: Any) -> None:
    start(api, PA, {"cost": 5000, "order_id": "PO-1"}, "po-1")
    until(lambda: status(api, "po-1") == "waiting", "po-1 to wait")
    page.goto(page.url.split("#")[0] + "#/executions/po-1")
    expect(page.locator("#exec-head .state")).to_have_text("waiting")
    expect(page.locator("#waits")).to_contain_text("signal 'approval'")
    assert dag(page)["approval"]["state"] == "waiting"
    shots(page, "execution")

    page.fill("#sig-payload", "{approved: yes}")  # not JSON
    page.click("text=Send signal")
    expect(page.locator("#sig-message")).to_contain_text("The payload is not JSON")
    assert status(api, "po-1") == "waiting"  # nothing was sent
    history = api.get("/v1/tenants/acme/executions/po-1/history").json()
    assert not [e for e in history if e["kind"].startswith("signal")]

    expect(page.locator("#sig-name")).to_have_value("approval")
    page.fill("#sig-payload", json.dumps({"approved": True, "approver": XSS}))
    page.click("text=Send signal")
    expect(page.locator("#sig-message")).to_have_text('Signal "approval" sent.')
    expect(page.locator("#exec-head .state")).to_have_text("succeeded", timeout=20_000)
    until(lambda: dag(page)["place_order"]["state"] == "succeeded", "place_order to turn green")
    states = dag(page)
    assert states["approval"] == {"state": "succeeded", "color": GREEN}
    assert states["place_order"] == {"state": "succeeded", "color": GREEN}
    assert states["cancel_order"]["state"] == "skipped"
    expect(page.locator('#tasks tr[data-task="approval"] .state')).to_have_text("succeeded")
    shots(page, "execution-approved")


def test_bulk_cancel_two_executions_with_a_result_per_row(page: Page, api: httpx.Client, shots: Any) -> None:
    for eid in ("bulk-1", "bulk-2", "bulk-3"):
        start(api, PA, {"cost": 9000}, eid)
    until(lambda: all(status(api, e) == "waiting" for e in ("bulk-1", "bulk-2", "bulk-3")), "three waits")
    page.goto(page.url.split("#")[0] + "#/executions")
    page.select_option("#f-status", "waiting")
    page.click("text=Filter")
    for eid in ("bulk-1", "bulk-2"):
        page.check(f'#executions tr[data-id="{eid}"] input[type=checkbox]')
    expect(page.locator("#bulk-cancel")).to_have_text("Cancel selected (2)")
    page.click("#bulk-cancel")
    expect(page.locator("#confirm-text")).to_contain_text("bulk-1")
    confirm(page)
    for eid in ("bulk-1", "bulk-2"):
        expect(page.locator(f'#bulk-results li[data-id="{eid}"]')).to_have_text(f"{eid}: cancel requested")
    until(lambda: status(api, "bulk-1") == status(api, "bulk-2") == "cancelled", "both to be cancelled")
    assert status(api, "bulk-3") == "waiting"  # not selected, not touched
    page.select_option("#f-status", "")
    page.click("text=Filter")
    expect(page.locator('#executions tr[data-id="bulk-2"]')).to_have_attribute("data-status", "cancelled")
    shots(page, "list")


def test_retry_a_failed_execution_from_the_page_and_see_it_succeed(page: Page, api: httpx.Client,
                                                                   world: World) -> None:
    # The task may write only in its worker's scratch dir: its outbox there is in a folder
    # that does not exist yet, so the approval request cannot be written and the task fails.
    start(api, PA, {"cost": 5000, "outbox": "missing/outbox.jsonl"}, "po-fail")
    until(lambda: status(api, "po-fail") == "failed", "po-fail to fail")
    page.goto(page.url.split("#")[0] + "#/executions/po-fail")
    expect(page.locator("#exec-head .state")).to_have_text("failed")
    expect(page.locator('#tasks tr[data-task="approval"] .task-error')).to_contain_text("No such file")
    page.check("#h-failures")
    expect(page.locator("#history tr").first).to_be_visible()
    assert set(page.locator("#history tbody tr").evaluate_all("rs => rs.map(r => r.dataset.kind)")) <= {
        "task_failed", "execution_failed"}
    for scratch in (world.srv.service.host.home / "run").glob("*/scratch"):  # make room, as its owner
        (scratch / "missing").mkdir(exist_ok=True)
        owner = scratch.stat()
        os.chown(scratch / "missing", owner.st_uid, owner.st_gid)
    page.click("#retry")
    confirm(page)
    expect(page.locator("#exec-head .state")).to_have_text("waiting", timeout=20_000)
    api.post("/v1/tenants/acme/executions/po-fail/signals", json={"name": "approval", "payload": {"approved": True}})
    expect(page.locator("#exec-head .state")).to_have_text("succeeded", timeout=20_000)
    written = [p.read_text() for p in (world.srv.service.host.home / "run").glob("*/scratch/missing/outbox.jsonl")]
    assert "".join(written).count("approve order") == 1


def test_a_history_of_a_thousand_events_stays_readable_and_filters_to_failures(
        page: Page, api: httpx.Client, world: World) -> None:
    start(api, PA, {"cost": 5000}, "po-long")
    until(lambda: status(api, "po-long") == "waiting", "po-long to wait for its approval")
    client = world.srv.service.host.client
    for i in range(1000):  # every signal sent is a line of history, consumed or not
        client.signal("po-long", "noise", {"i": i}, tenant="acme")
    page.goto(page.url.split("#")[0] + "#/executions/po-long")
    rows = page.locator("#history tbody tr")
    expect(rows.nth(999)).to_be_attached(timeout=20_000)
    assert rows.count() >= 1000
    box = page.locator(".history")
    # It scrolls inside its own box: the page around it stays where it is.
    assert box.evaluate("b => b.scrollHeight > 10 * b.clientHeight && b.clientHeight <= 480")
    expect(page.locator("#exec-head .state")).to_have_text("waiting")
    page.check("#h-failures")
    expect(rows).to_have_count(0)  # nothing failed: the filter leaves no line
    page.uncheck("#h-failures")
    expect(rows.nth(999)).to_be_attached()


@pytest.fixture(scope="module")
def globex(world: World) -> str:
    """Another tenant, with execution ``secret-1``."""
    other = world.tenant("globex")
    with world.srv.client(other) as c:
        r = c.post("/v1/tenants/globex/executions", json={"workflow": PA, "input": {"cost": 1}, "id": "secret-1"})
        assert r.status_code == 201
    return "globex"


def test_a_tenant_token_cannot_reach_another_tenants_execution(page: Page, globex: str) -> None:
    base = page.url.split("#")[0]
    page.evaluate("sessionStorage.setItem('wfhost.tenant', 'globex')")  # try to switch by hand
    page.goto(base + "#/executions/secret-1")
    page.reload()
    foreign = page.locator("#not-found")
    expect(foreign).to_be_visible()
    foreign_text = foreign.inner_text()
    page.goto(base + "#/executions/no-such-1")
    expect(page.locator("#not-found")).to_be_visible()
    unknown_text = page.locator("#not-found").inner_text()
    assert foreign_text.replace("secret-1", "X") == unknown_text.replace("no-such-1", "X")
    assert globex not in page.content()


def test_an_admin_token_switches_tenant(browser: Any, world: World, globex: str) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    p = context.new_page()
    p.goto(world.srv.url + "/")
    p.fill("#token", world.admin)
    p.click("text=Log in")
    expect(p.locator("#who")).to_have_text("admin")
    p.select_option("#tenant-select", globex)
    p.goto(world.srv.url + "/#/executions/secret-1")
    expect(p.locator("#exec-head .state")).to_be_visible()
    expect(p.locator("#view h1")).to_have_text("Execution secret-1")
    context.close()


def test_html_and_script_from_the_api_stay_text(page: Page, world: World, api: httpx.Client, shots: Any) -> None:
    upload(api, "acme", world.archives["hostile"], expect=201)
    # The input is shown as is; the threshold is not a number, so process_data fails with it in the error.
    eid = start(api, DP, {"sources": [XSS], "threshold": XSS}, "hostile-1")
    until(lambda: status(api, eid) == "failed", "the hostile execution to fail")
    base = page.url.split("#")[0]
    page.goto(base + "#/packages")
    expect(page.locator(".wf-description").first).to_contain_text('<img id="xss-img"')
    page.goto(base + f"#/executions/{eid}")
    expect(page.locator("#io")).to_contain_text("<script")
    expect(page.locator('#tasks tr[data-task="process_data"] .task-error')).to_contain_text("<img")
    page.goto(base + "#/executions/po-1")  # the approver in the signal payload, in the output and history
    expect(page.locator("#io")).to_contain_text('<img id=\\"xss-img\\"')
    expect(page.locator("#history")).to_contain_text("signal")
    page.goto(base + "#/executions")
    expect(page.locator(f'#executions tr[data-id="{eid}"]')).to_be_visible()
    expect(page.locator(f'#executions tr[data-id="{eid}"]')).to_have_attribute("data-status", "failed")
    assert page.evaluate("window.__xss") is None
    assert page.locator("#xss-img, #xss-script").count() == 0


def test_overview_and_a_narrow_screen(page: Page, api: httpx.Client, shots: Any) -> None:
    base = page.url.split("#")[0]
    page.goto(base + "#/overview")
    expect(page.locator("#c-failed .n")).not_to_have_text("0")
    expect(page.locator("#slowest")).to_contain_text(PA)
    expect(page.locator("#quota")).to_contain_text("concurrent tasks")
    assert page.locator("#schedules").is_hidden() or page.locator("#schedules h2").inner_text() == "Schedules"
    shots(page, "overview")
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(base + "#/executions")
    expect(page.locator("#executions")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390 + 1  # no page-wide sideways scroll
    page.keyboard.press("Tab")
    page.set_viewport_size({"width": 1280, "height": 800})
