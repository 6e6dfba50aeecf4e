// The docflow records dashboard: fetches /v1/records/figures with the caller's key and draws it.
import { bars, columns, el, stackedBars, table } from "./charts.js";

const KEY_STORAGE = "docflow.dashboard.key";
const AGE_BUCKETS = [
  ["under_1h", "< 1 hour"],
  ["under_1d", "1 hour – 1 day"],
  ["under_7d", "1 – 7 days"],
  ["over_7d", "> 7 days"],
];

const $ = (id) => document.getElementById(id);
const state = {
  config: null,
  timer: null,
  workspace: null,
  processTypes: new Set(),
  inFlight: null,
  last: null,
  resizeTimer: null,
};

// ------------------------------------------------------------------ the key
function getKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

function askForKey() {
  stopTimer();
  $("figures").hidden = true;
  $("login").hidden = false;
  $("key-input").value = "";
  $("key-input").focus();
}

function authHeaders() {
  return { Authorization: `Bearer ${getKey()}`, Accept: "application/json" };
}

// ------------------------------------------------------------------ filters
function filterParams() {
  const form = $("filters");
  const params = new URLSearchParams();
  const type = form.process_type.value;
  if (type) params.append("process_type", type);
  for (const system of form.source_system.value.split(/[,\s]+/).filter(Boolean)) {
    params.append("source_system", system);
  }
  if (form.started_from.value) params.set("started_from", `${form.started_from.value}T00:00:00Z`);
  if (form.started_to.value) {
    // The form's "until" day is inclusive; the API's started_to is exclusive.
    const day = new Date(`${form.started_to.value}T00:00:00Z`);
    day.setUTCDate(day.getUTCDate() + 1);
    params.set("started_to", day.toISOString().replace(".000Z", "Z"));
  }
  if (form.outcome.value) params.set("outcome", form.outcome.value);
  if (state.workspace !== null) params.set("workspace_id", String(state.workspace));
  return params;
}

// ------------------------------------------------------------------ errors
class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

async function apiGet(url) {
  let response;
  try {
    response = await fetch(url, { headers: authHeaders(), cache: "no-store" });
  } catch (error) {
    throw new HttpError(0, "docflow did not answer (network error).");
  }
  if (!response.ok) {
    let message = response.statusText || "";
    try {
      const body = await response.json();
      message = body?.error?.message || body?.detail || message;
    } catch {
      /* not JSON */
    }
    throw new HttpError(response.status, String(message));
  }
  return response;
}

function showError(error) {
  const banner = $("error-banner");
  const status = error instanceof HttpError ? error.status : 0;
  let title;
  if (status === 401) title = "Not signed in (401).";
  else if (status === 403) title = "Not allowed (403): the key lacks the records:read scope.";
  else if (status >= 500) title = `docflow could not compute the figures (${status}).`;
  else if (status === 0) title = "docflow is unreachable.";
  else title = `Request refused (${status}).`;
  banner.dataset.status = String(status);
  $("error-title").textContent = title;
  $("error-message").textContent =
    error.message + (status >= 500 || status === 0 ? " Retrying automatically." : "");
  $("error-key").hidden = !(status === 401 || status === 403);
  banner.hidden = false;
}

function clearError() {
  $("error-banner").hidden = true;
  delete $("error-banner").dataset.status;
}

// ------------------------------------------------------------------ loading
async function load() {
  if (!getKey()) {
    askForKey();
    return;
  }
  $("login").hidden = true;
  document.body.setAttribute("aria-busy", "true");
  const url = `${state.config.figures_url}?${filterParams()}`;
  try {
    const figures = await (await apiGet(url)).json();
    clearError();
    state.last = figures;
    $("figures").hidden = false;
    render(figures);
    const now = new Date();
    $("last-updated").textContent = `Last updated ${now.toLocaleTimeString()}`;
    $("last-updated").dataset.at = now.toISOString();
    $("last-updated").title = `Figures generated at ${figures.generated_at}`;
  } catch (error) {
    showError(error);
    if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
      // The key will not start working by itself: wait for another one.
      stopTimer();
      $("refresh-note").textContent = "· paused until another key is entered";
      return;
    }
  } finally {
    document.body.removeAttribute("aria-busy");
  }
  schedule();
}

function refresh() {
  // One request at a time; a refresh while one runs waits for it.
  state.inFlight = (state.inFlight || Promise.resolve()).then(load).finally(() => {
    state.inFlight = null;
  });
  return state.inFlight;
}

function stopTimer() {
  if (state.timer) clearTimeout(state.timer);
  state.timer = null;
}

function schedule() {
  stopTimer();
  const seconds = state.config.refresh_seconds;
  $("refresh-note").textContent = `· next refresh in ${seconds} s`;
  state.timer = setTimeout(refresh, seconds * 1000);
}

// ------------------------------------------------------------------ rendering
function render(f) {
  const total = f.by_state.reduce((sum, c) => sum + c.count, 0);
  $("empty").hidden = total > 0;
  rememberTypes(f);
  renderByState(f);
  renderOverdue(f);
  renderAges(f);
  renderTurnaround(f);
  renderFailures(f);
  renderHolds(f);
  renderCompliance(f);
}

function rememberTypes(f) {
  for (const c of f.by_state) state.processTypes.add(c.key.split("/")[0]);
  for (const a of f.ages) state.processTypes.add(a.process_type);
  const select = $("f-process-type");
  const known = new Set([...select.options].map((o) => o.value));
  for (const type of [...state.processTypes].sort()) {
    if (!known.has(type)) select.append(el("option", { value: type, text: type }));
  }
}

function renderByState(f) {
  const byType = new Map();
  const states = [];
  for (const c of f.by_state) {
    const [type, ...rest] = c.key.split("/");
    const st = rest.join("/") || "(none)";
    if (!states.includes(st)) states.push(st);
    if (!byType.has(type)) byType.set(type, {});
    byType.get(type)[st] = (byType.get(type)[st] || 0) + c.count;
  }
  stackedBars($("by-state"), {
    title: "Processes by state, per process type",
    id: "by-state",
    series: states,
    data: [...byType.entries()].map(([label, values]) => ({ label, values })),
    empty: "No processes yet.",
  });
}

function temporalLink(row) {
  const c = state.config;
  const href = `${c.temporal_ui_url}/namespaces/${encodeURIComponent(c.temporal_namespace)}`
    + `/workflows/${encodeURIComponent(row.workflow_id)}`;
  return el("a", { href, target: "_blank", rel: "noopener noreferrer", text: row.business_key });
}

function since(iso) {
  if (!iso) return "–";
  const ms = Date.now() - Date.parse(iso);
  if (ms < 0) return "not yet";
  const hours = ms / 3_600_000;
  if (hours < 1) return `${Math.round(ms / 60_000)} min`;
  if (hours < 48) return `${hours.toFixed(1)} h`;
  return `${Math.floor(hours / 24)} d`;
}

function when(iso) {
  return iso ? iso.replace("T", " ").slice(0, 16) + " UTC" : "–";
}

function renderOverdue(f) {
  $("overdue-count").textContent = String(f.approvals_overdue);
  const target = $("overdue-table");
  target.replaceChildren();
  if (!f.overdue.length) {
    target.append(el("p", { className: "empty-chart", text: "No approval is past its deadline." }));
    return;
  }
  target.append(table(
    "Oldest approvals past deadline (opens in the Temporal Web UI)",
    ["Process", "Type", "Waiting for", "Deadline", "Overdue by"],
    f.overdue.map((row) => [
      temporalLink(row), row.process_type, row.waiting_for || row.stage || "–",
      when(row.until), since(row.until),
    ]),
    { id: "overdue-rows" },
  ));
}

function renderAges(f) {
  stackedBars($("ages"), {
    title: "Open processes by time in their current state",
    id: "ages",
    series: AGE_BUCKETS.map(([, label]) => label),
    data: f.ages.map((a) => ({
      label: a.process_type,
      values: Object.fromEntries(AGE_BUCKETS.map(([key, label]) => [label, a[key]])),
    })),
    empty: "No open processes.",
  });
}

function hours(value) {
  if (value === null || value === undefined) return "–";
  return value < 48 ? `${value.toFixed(1)} h` : `${(value / 24).toFixed(1)} d`;
}

function renderTurnaround(f) {
  const t = f.turnaround;
  $("turnaround-p50").textContent = hours(t.p50_hours);
  $("turnaround-p90").textContent = hours(t.p90_hours);
  $("turnaround-completed").textContent = String(t.completed);
  columns($("turnaround-days"), {
    title: "Signings completed per day",
    id: "turnaround-days",
    valueLabel: "Completed",
    data: t.by_day.map((d) => ({ label: d.key, value: d.count })),
    empty: "No signing completed yet.",
  });
}

function renderFailures(f) {
  bars($("failures"), {
    title: "Delivery failures by target",
    id: "failures",
    valueLabel: "Failures",
    data: f.delivery_failures.map((c) => ({ label: c.label || c.key, value: c.count })),
    empty: "No delivery has failed.",
  });
}

function renderHolds(f) {
  $("holds-count").textContent = String(f.active_holds);
  bars($("holds"), {
    title: "Retention holds in force by workspace",
    id: "holds",
    valueLabel: "Holds",
    data: f.holds_by_workspace.map((c) => ({
      label: c.label || `Workspace ${c.key}`, value: c.count,
    })),
    empty: "No retention hold is in force.",
  });
}

function renderCompliance(f) {
  const target = $("compliance");
  target.replaceChildren();
  if (!f.compliance.length) {
    target.append(el("p", { className: "empty-chart", text: "No workspace has records yet." }));
    return;
  }
  const rows = f.compliance.map((w) => {
    const button = el("button", {
      type: "button", className: "link", text: `Workspace ${w.workspace_id}`,
      "data-workspace": w.workspace_id,
      "aria-pressed": state.workspace === w.workspace_id ? "true" : "false",
    });
    button.addEventListener("click", () => chooseWorkspace(w.workspace_id));
    return [button, w.processes, w.open, w.attention, w.approved_versions, w.active_holds,
      w.disposition_due_90d, when(w.last_activity)];
  });
  target.append(table(
    "Compliance per workspace",
    ["Workspace", "Processes", "Open", "Attention", "Approved versions", "Holds",
      "Disposition ≤ 90 d", "Last activity"],
    rows,
    { id: "compliance-table" },
  ));
}

// ------------------------------------------------------------------ workspace record
async function chooseWorkspace(id) {
  state.workspace = id;
  $("workspace-filter-id").textContent = String(id);
  $("workspace-filter").hidden = false;
  refresh();
  const panel = $("workspace-panel");
  const target = $("workspace-record");
  $("workspace-title").textContent = `Workspace ${id}`;
  target.replaceChildren(el("p", { className: "muted", text: "Loading…" }));
  panel.hidden = false;
  panel.scrollIntoView({ block: "nearest" });
  try {
    const url = state.config.workspace_url.replace("{id}", encodeURIComponent(id));
    const record = await (await apiGet(url)).json();
    target.replaceChildren(...workspaceView(record));
  } catch (error) {
    const text = error instanceof HttpError && error.status === 404
      ? "No record of this workspace."
      : `Could not load the workspace record: ${error.message}`;
    target.replaceChildren(el("p", { className: "empty-chart", text }));
  }
}

function clearWorkspace() {
  state.workspace = null;
  $("workspace-filter").hidden = true;
  $("workspace-panel").hidden = true;
  refresh();
}

/** The workspace record: its compliance figures, processes, holds and retention. */
function workspaceView(record) {
  const parts = [];
  const c = record.compliance;
  if (c) {
    parts.push(el("dl", { className: "stats", id: "workspace-compliance" },
      ...[
        ["Processes", c.processes], ["Open", c.open], ["Attention", c.attention],
        ["Approved versions", c.approved_versions], ["Holds", c.active_holds],
        ["Disposition ≤ 90 d", c.disposition_due_90d],
      ].map(([label, value]) => el("div", {}, el("dt", { text: label }),
        el("dd", { text: value })))));
  }
  if (Array.isArray(record.processes)) {
    parts.push(el("h3", { text: "Processes" }));
    parts.push(record.processes.length
      ? table("Processes of this workspace, newest first",
        ["Process", "Type", "State", "Started", "Updated", "Attention"],
        record.processes.map((p) => [temporalLink(p), p.process_type, p.state,
          when(p.started_at), when(p.updated_at), p.attention_reason || ""]),
        { id: "workspace-processes" })
      : el("p", { className: "muted", text: "No processes." }));
  }
  if (Array.isArray(record.holds) && record.holds.length) {
    parts.push(el("h3", { text: "Retention holds" }));
    parts.push(table("Holds on this workspace's documents",
      ["Hold", "Document", "Applied", "By", "Released"],
      record.holds.map((h) => [h.hold, h.document_node_id, when(h.applied_at), h.applied_by,
        when(h.released_at)])));
  }
  if (Array.isArray(record.retention) && record.retention.length) {
    parts.push(el("h3", { text: "Retention" }));
    parts.push(table("Documents under retention",
      ["Document", "Class", "Disposition", "On hold"],
      record.retention.map((r) => [r.document_node_id, r.retention_class,
        when(r.disposition_at), r.on_hold ? "yes" : "no"])));
  }
  if (record.truncated) {
    parts.push(el("p", { className: "muted small", text: "Only the first 200 entries are shown." }));
  }
  return parts.length ? parts : [describe(record)];
}

/** Any JSON record as definition lists and tables (the record's shape is the API's). */
function describe(value, depth = 0) {
  if (Array.isArray(value)) {
    if (!value.length) return el("p", { className: "muted", text: "none" });
    if (value.every((v) => v && typeof v === "object" && !Array.isArray(v))) {
      const keys = [...new Set(value.flatMap((v) => Object.keys(v)))]
        .filter((k) => value.some((v) => v[k] === null || typeof v[k] !== "object"))
        .slice(0, 8);
      return table(`${value.length} entries`, keys,
        value.slice(0, 50).map((v) => keys.map((k) => scalar(v[k]))));
    }
    return el("p", { text: value.map(scalar).join(", ") });
  }
  if (value && typeof value === "object") {
    const list = el("dl", { className: "record" });
    for (const [key, v] of Object.entries(value)) {
      list.append(el("dt", { text: key.replaceAll("_", " ") }));
      list.append(el("dd", {}, v && typeof v === "object" && depth < 2
        ? describe(v, depth + 1) : scalar(v)));
    }
    return list;
  }
  return el("p", { text: scalar(value) });
}

function scalar(v) {
  if (v === null || v === undefined || v === "") return "–";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

// ------------------------------------------------------------------ CSV export
async function exportCsv() {
  const params = filterParams();
  params.set("format", "csv");
  const button = $("export-csv");
  button.disabled = true;
  try {
    const response = await apiGet(`${state.config.processes_url}?${params}`);
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const stamp = new Date().toISOString().slice(0, 19).replaceAll(":", "");
    const link = el("a", { href: url, download: `docflow-processes-${stamp}.csv` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10_000);
  } catch (error) {
    showError(error);
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ start
async function start() {
  try {
    const response = await fetch("/dashboard/config.json", { cache: "no-store" });
    if (!response.ok) throw new HttpError(response.status, "The dashboard's settings are missing.");
    state.config = await response.json();
  } catch (error) {
    showError(error instanceof HttpError ? error : new HttpError(0, "Reload the page to retry."));
    return;
  }
  $("refresh-seconds").textContent = String(state.config.refresh_seconds);

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("key-input").value.trim();
    if (!key) return;
    sessionStorage.setItem(KEY_STORAGE, key);
    $("key-input").value = "";
    refresh();
  });
  const forget = () => {
    sessionStorage.removeItem(KEY_STORAGE);
    clearError();
    askForKey();
  };
  $("change-key").addEventListener("click", forget);
  $("error-key").addEventListener("click", forget);
  $("refresh").addEventListener("click", () => refresh());
  $("export-csv").addEventListener("click", exportCsv);
  $("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    refresh();
  });
  $("filters").addEventListener("change", () => refresh());
  $("filters").addEventListener("reset", () => setTimeout(refresh, 0));
  $("workspace-filter-clear").addEventListener("click", clearWorkspace);
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && getKey() && !state.timer) refresh();
  });
  window.addEventListener("resize", () => {
    clearTimeout(state.resizeTimer);
    state.resizeTimer = setTimeout(() => state.last && render(state.last), 200);
  });
  document.body.dataset.ready = "true";
  refresh();
}

start();
