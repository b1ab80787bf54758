// The dashboard's shell: log in, pick a tenant (admins), route "#/page/..." to a page module.
import {ApiProblem, api, session, setOnUnauthorized} from "./api.js";
import {fill, h} from "./dom.js";
import {executionPage} from "./execution.js";
import {executionsPage} from "./executions.js";
import {overviewPage} from "./overview.js";
import {packagesPage} from "./packages.js";

const $ = (id) => document.getElementById(id);
const view = $("view");
let who = null;
let leave = null; // the current page's clean-up (stop polling, close streams)

async function logIn(token) {
  session.token = token;
  try {
    who = await api("/v1/whoami");
  } catch (e) {
    session.token = null;
    who = null;
    throw e;
  }
  if (who.admin) {
    const {items} = await api("/v1/tenants");
    const select = fill($("tenant-select"), items.map((t) => h("option", {value: t}, t)));
    if (!items.includes(session.tenant)) session.tenant = items[0] || null;
    select.value = session.tenant || "";
    $("tenant-switch").hidden = false;
  } else {
    session.tenant = who.tenant;
    $("tenant-switch").hidden = true;
  }
  $("who").textContent = who.admin ? "admin" : `tenant ${who.tenant}`;
}

function logOut() {
  session.token = null;
  session.tenant = null;
  who = null;
  if (leave) leave();
  leave = null;
  fill(view);
  location.hash = "";
  showLogin();
}

function showLogin(message = "") {
  $("top").hidden = true;
  $("login").hidden = false;
  $("login-error").textContent = message;
  $("token").value = "";
  $("token").focus();
}

setOnUnauthorized(() => { if (who) { logOut(); showLogin("Your token is no longer valid; log in again."); } });

$("login-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  try {
    await logIn($("token").value.trim());
    $("login").hidden = true;
    $("top").hidden = false;
    if (!location.hash || location.hash === "#") location.hash = "#/executions";
    else route();
  } catch (e) {
    $("login-error").textContent = e instanceof ApiProblem && e.status === 401
      ? "That token is not valid." : `Could not log in: ${e.message}`;
  }
});
$("logout").addEventListener("click", logOut);
$("tenant-select").addEventListener("change", (ev) => {
  session.tenant = ev.target.value;
  route();
});

const PAGES = {overview: overviewPage, executions: executionsPage, packages: packagesPage};

async function route() {
  if (!who) return;
  if (leave) leave();
  leave = null;
  const [page = "executions", ...rest] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.dataset.nav === page) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  fill(view);
  const ctx = {tenant: session.tenant, admin: who.admin, view};
  if (!ctx.tenant) {
    fill(view, h("p", {class: "notice", role: "alert"}, "There is no tenant yet: create one with the API or CLI."));
    return;
  }
  try {
    if (page === "executions" && rest.length) leave = await executionPage(ctx, rest.join("/"));
    else if (PAGES[page]) leave = await PAGES[page](ctx);
    else fill(view, h("p", {class: "notice", role: "alert"}, "Not found: there is no such page."));
  } catch (e) {
    fill(view, errorNotice(e));
  }
  $("main").focus({preventScroll: true});
}

/** A readable message for any failure (problem details already are). */
export function errorNotice(e) {
  return h("p", {class: "notice", role: "alert"}, e instanceof ApiProblem ? e.message : `Something went wrong: ${e.message}`);
}

window.addEventListener("hashchange", route);

if (session.token) {
  logIn(session.token).then(() => { $("top").hidden = false; $("login").hidden = true; route(); },
                             () => showLogin("Your token is no longer valid; log in again."));
} else {
  showLogin();
}
