// The executions list: filters, search by id, server-side pages, children folded under their
// parent, live refresh and bulk cancel with a per-row result.
import {ApiProblem, api, tenantPath} from "./api.js";
import {confirmDialog, fill, h, stateBadge, when} from "./dom.js";

const PAGE = 50;
const LIVE_MS = 2000;
const STATUSES = ["", "active", "pending", "running", "waiting", "succeeded", "failed", "cancelled"];

export async function executionsPage({tenant, view}) {
  const base = tenantPath(tenant, "/executions");
  const filters = {status: "", workflow: "", retrying: false};
  const cursors = [null]; // the cursor of each page seen, to go back
  const selected = new Set();
  const open = new Set(); // parents whose children are shown
  const results = new Map(); // id -> bulk cancel result
  let next = null;
  let timer = null;

  const status = h("select", {id: "f-status"}, STATUSES.map((s) => h("option", {value: s}, s || "any")));
  const workflow = h("input", {id: "f-workflow", list: "f-workflows", placeholder: "package::workflow", size: 28});
  const workflows = h("datalist", {id: "f-workflows"});
  const retrying = h("input", {id: "f-retrying", type: "checkbox"});
  const search = h("input", {id: "f-search", type: "search", placeholder: "execution id", size: 24});
  const message = h("p", {class: "error", role: "alert", id: "list-error"});
  const body = h("tbody");
  const all = h("input", {type: "checkbox", "aria-label": "Select every row on this page"});
  const cancelButton = h("button", {type: "button", class: "danger", id: "bulk-cancel", disabled: true}, "Cancel selected");
  const resultList = h("ul", {class: "results", id: "bulk-results", "aria-live": "polite"});
  const pageInfo = h("span", {class: "muted"});
  const prev = h("button", {type: "button", disabled: true}, "← Newer");
  const more = h("button", {type: "button", disabled: true}, "Older →");
  const live = h("span", {class: "muted", "aria-live": "off"});

  fill(view,
    h("h1", {}, `Executions of ${tenant}`),
    h("form", {class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); apply(); }},
      h("label", {}, "Status", status),
      h("label", {}, "Workflow", workflow), workflows,
      h("label", {}, retrying, "Has a retrying task"),
      h("button", {type: "submit"}, "Filter")),
    h("form", {class: "filters", role: "search", onsubmit: (e) => { e.preventDefault(); find(); }},
      h("label", {}, "Find by id", search), h("button", {type: "submit"}, "Open")),
    message,
    h("div", {class: "bar"}, cancelButton, live),
    resultList,
    h("div", {class: "table-wrap"}, h("table", {id: "executions"},
      h("caption", {class: "muted"}, "Newest first; children are folded under their parent."),
      h("thead", {}, h("tr", {}, h("th", {}, all), h("th", {}, "Id"), h("th", {}, "Workflow"), h("th", {}, "Status"),
        h("th", {}, "Created (UTC)"), h("th", {}, "Finished (UTC)"), h("th", {}, "Children"), h("th", {}, "Result"))),
      body)),
    h("div", {class: "pager"}, prev, more, pageInfo));

  api(tenantPath(tenant, "/packages")).then((pkgs) => fill(workflows,
    [...new Set(pkgs.flatMap((p) => p.workflows.map((w) => `${p.package}::${w}`)))].map((w) => h("option", {value: w}))))
    .catch(() => {});

  function apply() {
    filters.status = status.value;
    filters.workflow = workflow.value.trim();
    filters.retrying = retrying.checked;
    cursors.length = 1;
    load();
  }

  async function find() {
    const id = search.value.trim();
    if (!id) return;
    try {
      await api(`${base}/${encodeURIComponent(id)}`);
      location.hash = `#/executions/${encodeURIComponent(id)}`;
    } catch (e) {
      message.textContent = e instanceof ApiProblem && e.status === 404 ? `Not found: no execution "${id}".` : e.message;
    }
  }

  async function page(params) {
    return api(base, {params: {limit: PAGE, ...params}});
  }

  async function load() {
    clearTimeout(timer);
    try {
      const cursor = cursors[cursors.length - 1];
      const {items, next_cursor} = await page({status: filters.status, workflow: filters.workflow,
        retrying: filters.retrying || undefined, root: !filters.retrying || undefined, cursor});
      next = next_cursor;
      const rows = [];
      for (const item of items) {
        rows.push(row(item, false));
        if (open.has(item.id)) {
          const kids = await page({parent: item.id, limit: 200});
          for (const kid of kids.items) rows.push(row(kid, true));
        }
      }
      fill(body, rows.length ? rows : h("tr", {}, h("td", {colspan: 8, class: "muted"}, "No executions match.")));
      message.textContent = "";
      prev.disabled = cursors.length === 1;
      more.disabled = !next;
      pageInfo.textContent = `page ${cursors.length}`;
      live.textContent = `live · updated ${new Date().toLocaleTimeString()}`;
    } catch (e) {
      message.textContent = e.message;
    }
    syncButton();
    timer = setTimeout(load, LIVE_MS);
  }

  function row(item, isChild) {
    const box = h("input", {type: "checkbox", "aria-label": `Select ${item.id}`, checked: selected.has(item.id),
      onchange: (e) => { e.target.checked ? selected.add(item.id) : selected.delete(item.id); syncButton(); }});
    const toggle = item.children && !isChild
      ? h("button", {type: "button", "aria-expanded": String(open.has(item.id)),
          onclick: () => { open.has(item.id) ? open.delete(item.id) : open.add(item.id); load(); }},
          `${open.has(item.id) ? "▾" : "▸"} ${item.children}`)
      : (isChild ? h("span", {class: "muted"}, "child") : "");
    const result = results.get(item.id);
    return h("tr", {class: isChild ? "child" : "", "data-id": item.id, "data-status": item.status},
      h("td", {}, box),
      h("td", {class: "mono"}, isChild ? "↳ " : "", h("a", {href: `#/executions/${encodeURIComponent(item.id)}`}, item.id)),
      h("td", {}, item.workflow, item.version ? h("span", {class: "muted"}, ` @${item.version}`) : ""),
      h("td", {}, stateBadge(item.status)),
      h("td", {}, when(item.created_at)), h("td", {}, when(item.finished_at)),
      h("td", {}, toggle), h("td", {class: "bulk-result"}, result || ""));
  }

  function syncButton() {
    cancelButton.disabled = selected.size === 0;
    cancelButton.textContent = `Cancel selected (${selected.size})`;
  }

  all.addEventListener("change", () => {
    for (const box of body.querySelectorAll("input[type=checkbox]")) {
      box.checked = all.checked;
      box.dispatchEvent(new Event("change"));
    }
  });
  cancelButton.addEventListener("click", async () => {
    const ids = [...selected];
    if (!await confirmDialog(`Cancel ${ids.length} execution${ids.length > 1 ? "s" : ""}: ${ids.join(", ")}?`)) return;
    try {
      const out = await api(tenantPath(tenant, "/executions:cancel"), {method: "POST", body: {ids, reason: "dashboard"}});
      const words = {cancel_requested: "cancel requested", finished: "already finished", not_found: "not found"};
      fill(resultList, out.results.map((r) => h("li", {"data-id": r.id, "data-result": r.result},
        h("span", {class: "mono"}, r.id), `: ${words[r.result] || r.result}`)));
      for (const r of out.results) results.set(r.id, words[r.result] || r.result);
      selected.clear();
      all.checked = false;
    } catch (e) {
      message.textContent = e.message;
    }
    load();
  });
  prev.addEventListener("click", () => { cursors.pop(); load(); });
  more.addEventListener("click", () => { if (next) { cursors.push(next); load(); } });

  await load();
  return () => clearTimeout(timer);
}
