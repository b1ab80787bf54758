// Building the page without ever parsing API strings as HTML: every text goes in through
// textContent (document.createTextNode), attributes through setAttribute.

/** h("a", {href: "#/x"}, "text", child) -> an element; strings become text nodes. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replace el's content. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const ICONS = {
  succeeded: "✔", failed: "✖", cancelled: "⊘", running: "▶", pending: "…", waiting: "‖",
  skipped: "↷", retrying: "↻", ready: "◌", active: "●", registered: "○", retired: "⨯",
};

/** A state told by colour, icon and word. */
export function stateBadge(state) {
  return h("span", {class: `state s-${state}`, "data-icon": ICONS[state] || "•", "data-state": state}, state);
}

export const STATE_COLORS = {
  succeeded: "#1a7f37", failed: "#c62828", cancelled: "#8c1d1d", running: "#1f5fbf", pending: "#8c959f", ready: "#6e7781",
  waiting: "#bf8700", skipped: "#d0d7de", retrying: "#e36209",
};
export const stateIcon = (s) => ICONS[s] || "•";

/** "2026-11-23T20:41:00Z" -> "2026-11-23 20:41:00" (UTC), or "—". */
export function when(ts) {
  return ts ? String(ts).replace("T", " ").replace(/(\.\d+)?Z$/, "") : "—";
}

export function seconds(s) {
  if (s === null || s === undefined) return "—";
  return s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${s.toFixed(2)} s` : `${(s / 60).toFixed(1)} min`;
}

/** A collapsible, pretty-printed JSON value. */
export function jsonBlock(title, value, open = true) {
  return h("details", {open}, h("summary", {}, title), h("pre", {class: "mono"}, JSON.stringify(value, null, 2)));
}

/** Ask before acting; resolves true on "Confirm". */
export function confirmDialog(text) {
  const dlg = document.getElementById("confirm");
  document.getElementById("confirm-text").textContent = text;
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "yes"), {once: true});
    dlg.returnValue = "";
    dlg.showModal();
    document.getElementById("confirm-no").focus();
  });
}
