// Packages and their versions: signer, registration time, active version, activate
// (roll back) and unregister, each with a confirmation.
import {api, tenantPath} from "./api.js";
import {confirmDialog, fill, h, stateBadge, when} from "./dom.js";

export async function packagesPage({tenant, view}) {
  const message = h("p", {class: "error", role: "alert", id: "pkg-error"});
  const body = h("tbody");
  fill(view, h("h1", {}, `Packages of ${tenant}`), message,
    h("div", {class: "table-wrap"}, h("table", {id: "packages"},
      h("thead", {}, h("tr", {}, ["Package", "Version", "State", "Signed by (key id)", "Registered (UTC)",
        "Workflows", "Actions"].map((c) => h("th", {}, c)))), body)));

  async function load() {
    const versions = await api(tenantPath(tenant, "/packages"));
    versions.sort((a, b) => a.package.localeCompare(b.package) || b.registered_at.localeCompare(a.registered_at));
    fill(body, versions.length ? versions.map(row) : h("tr", {}, h("td", {colspan: 7, class: "muted"}, "No packages.")));
  }

  function row(p) {
    const active = p.active;
    const older = !active && p.state !== "retired";
    return h("tr", {"data-package": p.package, "data-version": p.version},
      h("th", {scope: "row"}, p.package), h("td", {class: "mono"}, p.version),
      h("td", {}, stateBadge(active ? "active" : p.state)),
      h("td", {class: "mono"}, p.key_id), h("td", {}, when(p.registered_at)),
      h("td", {}, h("ul", {}, (p.dags || p.workflows.map((name) => ({name}))).map((w) =>
        h("li", {}, h("span", {class: "mono"}, w.name), w.description ? h("span", {class: "muted wf-description"}, ` — ${w.description}`) : "")))),
      h("td", {}, h("div", {class: "bar"},
        older ? h("button", {type: "button", onclick: () => act(
          `Make ${p.package} ${p.version} the active version? New executions will use it.`,
          () => api(tenantPath(tenant, `/packages/${encodeURIComponent(p.package)}/activate`),
            {method: "POST", body: {version: p.version}}))}, "Activate") : "",
        p.state !== "retired" ? h("button", {type: "button", class: "danger", onclick: () => act(
          `Unregister ${p.package} ${p.version}? No new executions can start on it; running ones finish.`,
          () => api(tenantPath(tenant, `/packages/${encodeURIComponent(p.package)}`),
            {method: "DELETE", params: {version: p.version}}))}, "Unregister") : "")));
  }

  async function act(question, call) {
    if (!await confirmDialog(question)) return;
    try {
      await call();
      message.textContent = "";
    } catch (e) {
      message.textContent = e.message;
    }
    await load();
  }

  await load();
  return () => {};
}
