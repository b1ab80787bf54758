// One execution: its DAG (live over SSE), tasks, input/output, waits with a signal form,
// cancel and retry, children and the history timeline.
import {ApiProblem, api, stream, tenantPath} from "./api.js";
import {STATE_COLORS, confirmDialog, fill, h, jsonBlock, seconds, stateBadge, stateIcon, when} from "./dom.js";

const TERMINAL = ["succeeded", "failed", "cancelled"];
const FAILURES = /fail|retry|timed_out|cancel/;

export async function executionPage({tenant, view}, id) {
  const base = tenantPath(tenant, `/executions/${encodeURIComponent(id)}`);
  let state;
  try {
    state = await api(base);
  } catch (e) {
    // A foreign id and an unknown one answer the same 404; say the same thing for both.
    if (e instanceof ApiProblem && e.status === 404) {
      fill(view, h("h1", {}, "Execution"), h("p", {class: "notice", role: "alert", id: "not-found"},
        `Not found: no execution "${id}" in tenant "${tenant}".`));
      return () => {};
    }
    throw e;
  }
  const dag = await workflowDag(tenant, state);
  const abort = new AbortController();
  const events = [];

  const title = h("h1", {}, "Execution ", h("span", {class: "mono"}, id));
  const head = h("div", {class: "bar", id: "exec-head"});
  const message = h("p", {class: "error", role: "alert", id: "exec-error"});
  const graph = h("div", {id: "dag", role: "img", "aria-label": "The workflow's tasks as a graph; the table below lists them"});
  const tasks = h("tbody");
  const io = h("div", {id: "io"});
  const waits = h("div", {id: "waits"});
  const kids = h("div", {id: "children"});
  const failuresOnly = h("input", {type: "checkbox", id: "h-failures"});
  const hist = h("tbody");
  const histCount = h("span", {class: "muted", "aria-live": "polite"});
  const liveNote = h("span", {class: "muted", id: "live"});

  const signalName = h("input", {id: "sig-name", required: true, maxlength: 128});
  const signalPayload = h("textarea", {id: "sig-payload", rows: 4, "aria-describedby": "sig-help"}, '{"approved": true}');
  const signalMessage = h("p", {role: "alert", id: "sig-message"});
  const signalForm = h("form", {class: "signal", id: "signal-form", onsubmit: sendSignal},
    h("label", {for: "sig-name"}, "Signal name"), signalName,
    h("label", {for: "sig-payload"}, "Payload (JSON)"), signalPayload,
    h("span", {id: "sig-help", class: "muted"}, "Any JSON value: an object, a list, a string in quotes, a number."),
    h("div", {}, h("button", {type: "submit"}, "Send signal")));

  fill(view, title, head, message,
    h("div", {class: "grid2"},
      h("section", {"aria-labelledby": "dag-h"}, h("h2", {id: "dag-h"}, "Tasks ", liveNote), graph,
        h("div", {class: "table-wrap"}, h("table", {id: "tasks"}, h("thead", {}, h("tr", {},
          ["Task", "State", "Attempts", "Duration", "Started (UTC)", "Error / waiting for"].map((c) => h("th", {}, c)))),
          tasks))),
      h("section", {"aria-labelledby": "io-h"}, h("h2", {id: "io-h"}, "Input and output"), io,
        h("h2", {}, "Waits"), waits, signalMessage, h("h2", {}, "Children"), kids)),
    h("section", {"aria-labelledby": "hist-h"}, h("h2", {id: "hist-h"}, "History"),
      h("div", {class: "bar"}, h("label", {}, failuresOnly, "Failures only"), histCount),
      h("div", {class: "history"}, h("table", {id: "history"},
        h("thead", {}, h("tr", {}, ["Time (UTC)", "Event", "Task", "Detail"].map((c) => h("th", {}, c)))), hist))));

  const cy = drawDag(graph, dag, state);
  window.wfDashboard = {dagStates: () => Object.fromEntries(cy.nodes().map((n) => [n.id(), {
    state: n.data("state"), color: n.style("background-color")}]))};

  function render(s) {
    state = s;
    fill(head, stateBadge(s.status), h("span", {}, s.workflow, s.version ? ` @${s.version}` : ""),
      h("span", {class: "muted"}, `run ${s.run} · created ${when(s.created_at)}`),
      s.parent ? h("a", {href: `#/executions/${encodeURIComponent(s.parent)}`}, "parent") : "",
      h("button", {type: "button", class: "danger", id: "cancel", disabled: TERMINAL.includes(s.status),
        onclick: () => act("cancel", `Cancel execution "${id}" (and its children)?`, {reason: "dashboard"})}, "Cancel"),
      h("button", {type: "button", id: "retry", disabled: !["failed", "cancelled"].includes(s.status),
        onclick: () => act("retry", `Retry execution "${id}" from its failed tasks?`)}, "Retry"));
    updateDag(cy, s);
    fill(tasks, s.tasks.map((t) => h("tr", {"data-task": t.task, "data-state": t.state},
      h("th", {scope: "row", class: "mono"}, t.task), h("td", {}, stateBadge(taskState(t))),
      h("td", {}, String(t.attempts)), h("td", {}, seconds(t.duration)), h("td", {}, when(t.started_at)),
      h("td", {class: "mono"}, t.error ? h("span", {class: "error task-error"}, t.error) : (t.waiting_for || "")))));
    fill(io, jsonBlock("Input", s.input), s.output !== null ? jsonBlock("Output", s.output) : "",
      s.error ? h("p", {class: "error", id: "exec-failure"}, s.error) : "");
    renderWaits(s);
    fill(kids, s.children.length ? h("ul", {}, s.children.map((c) => h("li", {},
      h("a", {class: "mono", href: `#/executions/${encodeURIComponent(c.id)}`}, c.id), " ", c.workflow, " ",
      stateBadge(c.status)))) : h("p", {class: "muted"}, "None."));
  }

  function renderWaits(s) {
    const waiting = s.tasks.filter((t) => t.waiting_for);
    const first = waiting.map((t) => /signal '([^']+)'/.exec(t.waiting_for)).find(Boolean);
    if (first && !signalName.value) signalName.value = first[1];
    fill(waits, waiting.length ? h("ul", {}, waiting.map((t) => h("li", {}, h("span", {class: "mono"}, t.task),
      ": waits for ", t.waiting_for))) : h("p", {class: "muted"}, "No open waits."),
      TERMINAL.includes(s.status) ? "" : signalForm);
  }

  async function sendSignal(ev) {
    ev.preventDefault();
    signalMessage.className = "error";
    let payload;
    try {
      payload = JSON.parse(signalPayload.value);
    } catch (e) {
      signalMessage.textContent = `The payload is not JSON (${e.message}); nothing was sent.`;
      signalPayload.setAttribute("aria-invalid", "true");
      signalPayload.focus();
      return;
    }
    signalPayload.removeAttribute("aria-invalid");
    try {
      await api(`${base}/signals`, {method: "POST", body: {name: signalName.value.trim(), payload}});
      signalMessage.className = "ok";
      signalMessage.textContent = `Signal "${signalName.value.trim()}" sent.`;
    } catch (e) {
      signalMessage.textContent = e.message;
    }
  }

  async function act(what, question, body) {
    if (!await confirmDialog(question)) return;
    try {
      await api(`${base}/${what}`, {method: "POST", body});
      message.textContent = "";
      follow();
    } catch (e) {
      message.textContent = e.message;
    }
  }

  function renderHistory() {
    const shown = failuresOnly.checked ? events.filter((e) => FAILURES.test(e.kind)) : events;
    fill(hist, shown.map((e) => {
      const {at, kind, task, ...rest} = e;
      return h("tr", {class: FAILURES.test(kind) ? "fail" : "", "data-kind": kind},
        h("td", {}, when(at)), h("td", {}, kind), h("td", {class: "mono"}, task || ""),
        h("td", {class: "mono"}, Object.keys(rest).length ? JSON.stringify(rest) : ""));
    }));
    histCount.textContent = `${shown.length} of ${events.length} events`;
  }
  failuresOnly.addEventListener("change", renderHistory);

  let following = false;
  async function follow() {
    if (following) return;
    following = true;
    events.length = 0;
    liveNote.textContent = "· live";
    try {
      await stream(`${base}/events`, (name, data) => {
        if (name === "history") { events.push(data); scheduleHistory(); }
        else if (name === "status") render(data);
      }, abort.signal);
      liveNote.textContent = "· finished";
    } catch (e) {
      if (e.name !== "AbortError") message.textContent = `Live updates stopped: ${e.message}`;
    } finally {
      following = false;
    }
    if (!abort.signal.aborted) render(await api(base));
  }
  let pending = null;
  function scheduleHistory() {
    if (!pending) pending = requestAnimationFrame(() => { pending = null; renderHistory(); });
  }

  render(state);
  follow();
  return () => { abort.abort(); delete window.wfDashboard; cy.destroy(); };
}

/** A task's state, "retrying" for one that failed an attempt and runs, or waits to run, again. */
function taskState(t) {
  return ["pending", "ready", "running"].includes(t.state) && t.error ? "retrying" : t.state;
}

async function workflowDag(tenant, state) {
  try {
    const pkgs = await api(tenantPath(tenant, "/packages"));
    const [pkg, wf] = state.workflow.split("::");
    const version = pkgs.find((p) => p.package === pkg && p.version === state.version);
    const dag = version && (version.dags || []).find((d) => d.name === wf);
    if (dag) return dag.tasks.map((t) => ({id: t.id, depends_on: t.depends_on || []}));
  } catch { /* drawn without edges below */ }
  return state.tasks.map((t) => ({id: t.task, depends_on: []}));
}

function drawDag(container, dag, state) {
  const known = new Set(dag.map((t) => t.id));
  const nodes = dag.map((t) => ({data: {id: t.id, label: t.id, state: null}}));
  for (const t of state.tasks) if (!known.has(t.task)) nodes.push({data: {id: t.task, label: t.task, state: null}});
  const edges = dag.flatMap((t) => t.depends_on.map((d) => ({data: {id: `${d}->${t.id}`, source: d, target: t.id}})));
  // cytoscape draws labels on a canvas: API strings never become markup.
  return cytoscape({
    container, elements: [...nodes, ...edges], autoungrabify: true, userZoomingEnabled: false,
    layout: {name: "dagre", rankDir: "LR", nodeSep: 20, rankSep: 50},
    style: [
      {selector: "node", style: {shape: "round-rectangle", width: "label", height: 44, padding: "10px",
        label: "data(label)", "text-wrap": "wrap", "text-valign": "center", "font-size": 12, color: "#fff",
        "text-outline-width": 0, "background-color": (n) => STATE_COLORS[n.data("state")] || "#8c959f",
        "border-width": 2, "border-color": "#1d232a"}},
      {selector: "node[state = 'skipped']", style: {color: "#1d232a", "border-style": "dashed"}},
      {selector: "node[state = 'waiting'], node[state = 'retrying']", style: {"border-style": "double", "border-width": 4}},
      {selector: "edge", style: {width: 2, "curve-style": "bezier", "target-arrow-shape": "triangle",
        "line-color": "#8c959f", "target-arrow-color": "#8c959f"}},
    ],
  });
}

function updateDag(cy, s) {
  for (const t of s.tasks) {
    const node = cy.getElementById(t.task);
    const st = taskState(t);
    if (node.nonempty() && node.data("state") !== st) {
      node.data({state: st, label: `${stateIcon(st)} ${t.task}\n${st}`});
    }
  }
  cy.resize();
  cy.fit(undefined, 10);
}
