// The tenant at a glance: counts, throughput over the last hour (Chart.js), the slowest
// workflows, quotas in use, and schedules when the service has them.
import {ApiProblem, api, tenantPath} from "./api.js";
import {fill, h, seconds, when} from "./dom.js";

const REFRESH_MS = 5000;

export async function overviewPage({tenant, view}) {
  const cards = h("div", {class: "cards", id: "counts"});
  const canvas = h("canvas", {id: "throughput", role: "img", "aria-label": "Executions finished per minute, last hour"});
  const slow = h("tbody");
  const quota = h("tbody");
  const schedules = h("section", {id: "schedules", hidden: true});
  const message = h("p", {class: "error", role: "alert"});
  fill(view, h("h1", {}, `Overview of ${tenant}`), message, cards,
    h("div", {class: "grid2"},
      h("section", {}, h("h2", {}, "Throughput, last hour"), h("div", {class: "chart-box"}, canvas)),
      h("section", {}, h("h2", {}, "Quota in use"), h("table", {id: "quota"}, h("thead", {}, h("tr", {},
        ["Quota", "In use", "Limit"].map((c) => h("th", {}, c)))), quota))),
    h("section", {}, h("h2", {}, "Slowest workflows, last hour"), h("div", {class: "table-wrap"}, h("table", {id: "slowest"},
      h("thead", {}, h("tr", {}, ["Workflow", "Finished", "Mean", "Longest"].map((c) => h("th", {}, c)))), slow))),
    schedules);

  const chart = new Chart(canvas, {
    type: "bar",
    data: {labels: [], datasets: [{label: "finished per minute", data: [], backgroundColor: "#1f5fbf"}]},
    options: {animation: false, maintainAspectRatio: false, scales: {y: {beginAtZero: true, ticks: {precision: 0}}},
              plugins: {legend: {display: false}}},
  });
  let timer = null;

  async function load() {
    try {
      const o = await api(tenantPath(tenant, "/overview"));
      const card = (label, n, id) => h("div", {class: "card", id}, h("div", {class: "n"}, String(n)), h("div", {}, label));
      fill(cards, card("running", o.running, "c-running"), card("waiting", o.waiting, "c-waiting"),
        card("failed, last hour", o.last_hour.failed, "c-failed"),
        card("succeeded, last hour", o.last_hour.succeeded, "c-succeeded"));
      chart.data.labels = o.throughput.map((b) => when(b.minute).slice(11, 16));
      chart.data.datasets[0].data = o.throughput.map((b) => b.finished);
      chart.update();
      fill(slow, o.slowest.length ? o.slowest.map((w) => h("tr", {}, h("td", {class: "mono"}, w.workflow),
        h("td", {}, String(w.finished)), h("td", {}, seconds(w.mean_seconds)), h("td", {}, seconds(w.max_seconds))))
        : h("tr", {}, h("td", {colspan: 4, class: "muted"}, "Nothing finished in the last hour.")));
      fill(quota, Object.entries(o.quota.limits).map(([k, limit]) => h("tr", {}, h("td", {}, k.replaceAll("_", " ")),
        h("td", {}, k in o.quota.in_use ? String(o.quota.in_use[k]) : "—"), h("td", {}, String(limit)))));
      message.textContent = "";
    } catch (e) {
      message.textContent = e.message;
    }
    await loadSchedules();
    timer = setTimeout(load, REFRESH_MS);
  }

  async function loadSchedules() {
    let list;
    try {
      list = await api(tenantPath(tenant, "/schedules"));
    } catch (e) {
      schedules.hidden = true; // 404: this service has no schedules
      if (!(e instanceof ApiProblem && e.status === 404)) message.textContent = e.message;
      return;
    }
    const items = Array.isArray(list) ? list : list.items || [];
    schedules.hidden = false;
    const runs = (s) => h("ul", {}, (s.runs || []).slice(0, 5).map((r) => h("li", {}, `${when(r.tick_at)} ${r.outcome} `,
      r.execution_id ? h("a", {href: `#/executions/${encodeURIComponent(r.execution_id)}`}, r.execution_id) : "",
      r.detail ? ` ${r.detail}` : "")));
    const rows = items.map((s) => h("tr", {}, h("td", {class: "mono"}, s.name), h("td", {}, s.workflow),
      h("td", {class: "mono"}, `${s.cron} ${s.timezone || ""}`), h("td", {}, s.paused ? "paused" : "no"),
      h("td", {}, when(s.next_tick_at)), h("td", {}, runs(s))));
    const head = h("thead", {}, h("tr", {}, ["Name", "Workflow", "Cron", "Paused", "Next tick (UTC)", "Last runs"]
      .map((c) => h("th", {}, c))));
    fill(schedules, h("h2", {}, "Schedules"), h("div", {class: "table-wrap"}, h("table", {}, head, h("tbody", {}, rows))));
  }

  await load();
  return () => { clearTimeout(timer); chart.destroy(); };
}
