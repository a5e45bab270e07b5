// The operators' dashboard: plain JavaScript over the admin API (/__admin), live
// through server-sent events (/__admin/ui/events). Everything read from the simulator
// is inserted as text, never as HTML: journal bodies are whatever a client sent.
"use strict";

const ADMIN = "/__admin";
const MAX_ROWS = 500;        // request rows kept on the page; older ones are removed
const REFRESH_MS = 1500;     // live refresh of the other views, at most this often
const POLL_MS = 3000;        // webhook attempts are not in the journal: read every 3 s

// -- small helpers ------------------------------------------------------------------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

async function api(method, path, body, contentType = "application/json") {
  const options = { method, headers: {} };
  // A call that changes state must say it is JSON (paysandbox/admin/access.py).
  if (body === undefined && method !== "GET") body = {};
  if (body !== undefined) {
    options.headers["Content-Type"] = contentType;
    options.body = typeof body === "string" ? body : JSON.stringify(body);
  }
  const response = await fetch(ADMIN + path, options);
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch (_) { data = text; }
  if (!response.ok) {
    const message = data && data.error ? data.error.message : `${response.status} ${text}`;
    const error = new Error(message);
    error.status = response.status;
    error.data = data;
    throw error;
  }
  return data;
}

let flashTimer = null;
function flash(message, bad = false) {
  const el = document.getElementById("flash");
  el.textContent = message;
  el.className = bad ? "bad" : "";
  el.hidden = false;
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => { el.hidden = true; }, bad ? 8000 : 3000);
}

function statusBadge(status) {
  const kind = status >= 500 || status === 0 ? "bad" : status >= 400 ? "warn" : "ok";
  return h("span", { class: `badge ${kind}` }, status || "—");
}

const STATE_KIND = {
  captured: "ok", authorized: "ok", delivered: "ok", succeeded: "ok", refunded: "info",
  partially_refunded: "info", pending: "warn", requires_action: "warn", created: "",
  delivering: "warn", failed: "bad", voided: "", expired: "",
};
function stateBadge(state) {
  return h("span", { class: `badge ${STATE_KIND[state] || ""}` }, state);
}

function pad(n, width = 2) { return String(n).padStart(width, "0"); }
function clockTime(seconds) {
  const d = new Date(seconds * 1000);
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.` +
    pad(d.getUTCMilliseconds(), 3);
}
function clockDate(seconds) {
  return new Date(seconds * 1000).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}
function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  // Sub-second values keep their milliseconds; others are rounded first, so that an
  // offset read a few microseconds short of two hours shows as "2 h", not "120 min".
  const raw = Math.abs(seconds);
  const s = raw < 1 ? raw : Math.round(raw * 10) / 10;
  const text = s === 0 ? "0 s" : s < 1 ? `${Math.round(s * 1000)} ms` : s < 120 ? `${+s.toFixed(1)} s`
    : s < 7200 ? `${+(s / 60).toFixed(1)} min` : s < 172800 ? `${+(s / 3600).toFixed(1)} h`
    : `${+(s / 86400).toFixed(1)} d`;
  return seconds < 0 ? `-${text}` : text;
}
// Amounts are kept in minor units; shown in the currency's own (2 for EUR, 0 for JPY).
function money(amount, currency) {
  if (amount === null || amount === undefined) return "—";
  let digits = 2;
  try {
    digits = new Intl.NumberFormat("en", { style: "currency", currency }).resolvedOptions().maximumFractionDigits;
  } catch (_) { /* not an ISO 4217 code: assume two */ }
  const major = (amount / 10 ** digits).toLocaleString("en", { minimumFractionDigits: digits, maximumFractionDigits: digits });
  return `${major} ${currency || ""}`.trim();
}
// JSON indented; a form-encoded body (Stripe's) one decoded `key = value` a line.
function pretty(value) {
  if (value === null || value === undefined) return "(empty)";
  if (typeof value !== "string") return JSON.stringify(value, null, 2);
  if (/^[^\s=&]+=[^\s]*$/.test(value)) {
    try {
      return [...new URLSearchParams(value)].map(([k, v]) => `${k} = ${v}`).join("\n");
    } catch (_) { return value; }
  }
  return value;
}
// The journal shows a key as the simulator masks it (first 8, an ellipsis, last 4).
function masked(key) { return key && key.length > 12 ? `${key.slice(0, 8)}…${key.slice(-4)}` : key; }

function table(headers, rows, empty) {
  const head = h("tr", null, headers.map(([label, cls]) => h("th", { class: cls }, label)));
  const body = h("tbody");
  if (!rows.length) body.append(h("tr", null, h("td", { class: "empty", colspan: headers.length }, empty)));
  else body.append(...rows);
  return h("table", null, h("thead", null, head), body);
}

function section(title, ...content) { return h("div", { class: "panel" }, h("h2", null, title), content); }

function tagsOf(entry) {
  const chips = [];
  for (const rule of entry.scenario_rules || []) chips.push(h("span", { class: "chip", title: "scenario rule that fired" }, rule));
  if (entry.fault) chips.push(h("span", { class: "chip fault", title: "injected fault" }, entry.fault));
  const violations = (entry.contract_violations || []).length;
  if (violations) chips.push(h("span", { class: "chip violation", title: "contract violations" }, `${violations} contract ${violations === 1 ? "violation" : "violations"}`));
  if (!chips.length && (entry.near_misses || []).length) chips.push(h("span", { class: "chip miss", title: "no rule fired; the closest missed" }, `near miss: ${entry.near_misses[0].rule}`));
  return h("div", { class: "chips" }, chips);
}

// -- live stream --------------------------------------------------------------------

const live = { source: null, listeners: new Set(), retry: null };

function connectLive() {
  const indicator = document.getElementById("live");
  if (live.source) live.source.close();
  const source = live.source = new EventSource(`${ADMIN}/ui/events`);
  source.addEventListener("hello", () => { indicator.className = "live on"; indicator.textContent = "live"; });
  source.addEventListener("request", (event) => {
    const entry = JSON.parse(event.data);
    for (const listener of live.listeners) listener(entry);
  });
  source.addEventListener("dropped", (event) => {
    const { dropped } = JSON.parse(event.data);
    flash(`The live stream fell behind and skipped ${dropped} requests; the lists show the latest.`);
  });
  source.onerror = () => {
    indicator.className = "live off";
    indicator.textContent = "reconnecting";
    if (source.readyState === EventSource.CLOSED) {  // refused (503: too many streams)
      clearTimeout(live.retry);
      live.retry = setTimeout(connectLive, 5000);
    }
  };
}

// A view's refresh on any new request, at most once per REFRESH_MS.
function throttled(fn) {
  let timer = null;
  let again = false;
  return () => {
    if (timer) { again = true; return; }
    fn();
    timer = setTimeout(() => { timer = null; if (again) { again = false; fn(); } }, REFRESH_MS);
  };
}

// -- the clock in the header ------------------------------------------------------------

async function refreshClock() {
  try {
    const clock = await api("GET", "/clock");
    document.getElementById("clock-now").textContent = clockDate(clock.now);
    return clock;
  } catch (_) { return null; }
}

// -- views ------------------------------------------------------------------------------

const views = {};
let providers = [];

views.requests = async (root) => {
  const filters = { provider: "", status: "", namespace: "", path: "" };
  const providerSelect = h("select", { id: "filter-provider", onchange: (e) => { filters.provider = e.target.value; reload(); } },
    h("option", { value: "" }, "all providers"), providers.map((p) => h("option", { value: p }, p)));
  const statusSelect = h("select", { id: "filter-status", onchange: (e) => { filters.status = e.target.value; reload(); } },
    h("option", { value: "" }, "any status"), ["2xx", "4xx", "5xx", "400", "401", "402", "404", "409", "422", "500", "503"].map((s) => h("option", { value: s }, s)));
  const namespaceInput = h("input", { id: "filter-namespace", type: "search", placeholder: "namespace (API key)", size: 26,
    onchange: (e) => { filters.namespace = e.target.value.trim(); reload(); } });
  const pathInput = h("input", { id: "filter-path", type: "search", placeholder: "path contains", size: 20,
    onchange: (e) => { filters.path = e.target.value.trim(); reload(); } });
  let paused = false;
  let held = [];
  const pauseButton = h("button", { onclick: () => {
    paused = !paused;
    pauseButton.textContent = paused ? "Resume" : "Pause";
    if (!paused) { held.reverse().forEach((e) => addRow(e, true)); held = []; updateCount(); }
  } }, "Pause");
  const count = h("span", { class: "muted" });
  const tbody = h("tbody", { id: "requests" });
  root.append(h("h1", null, "Requests"),
    h("div", { class: "toolbar" }, providerSelect, statusSelect, namespaceInput, pathInput,
      h("span", { class: "grow" }), count, pauseButton),
    h("div", { class: "panel flush" }, h("table", null,
      h("thead", null, h("tr", null, ["time (virtual)", "provider", "request", "status", "ms", "scenario, faults, contracts"].map((t, i) => h("th", { class: i === 4 ? "num" : "" }, t)))),
      tbody)));

  function wanted(entry) {
    if (filters.provider && entry.provider !== filters.provider) return false;
    if (filters.namespace && entry.namespace !== masked(filters.namespace)) return false;
    if (filters.path && !entry.path.includes(filters.path)) return false;
    if (filters.status) {
      const code = parseInt(filters.status, 10);
      if (entry.status !== code && Math.floor(entry.status / 100) !== code) return false;
    }
    return true;
  }
  function updateCount() {
    const rows = tbody.querySelectorAll("tr.row").length;
    count.textContent = paused && held.length ? `${held.length} new while paused` : `${rows} shown`;
  }
  function addRow(entry, fresh) {
    tbody.querySelector("td.empty")?.parentElement.remove();
    const row = h("tr", { class: `row${fresh ? " fresh" : ""}`, dataset: { seq: entry.seq, provider: entry.provider, status: entry.status } },
      h("td", { class: "mono" }, clockTime(entry.at)),
      h("td", null, entry.provider, entry.namespace ? h("div", { class: "muted mono small" }, entry.namespace) : null),
      h("td", { class: "path" }, h("b", null, entry.method), " ", entry.path, entry.query ? `?${entry.query}` : ""),
      h("td", null, statusBadge(entry.status)),
      h("td", { class: "num" }, entry.duration_ms.toFixed(1)),
      h("td", null, tagsOf(entry)));
    row.addEventListener("click", () => toggleDetail(row, entry));
    if (fresh) tbody.prepend(row); else tbody.append(row);
    const rows = tbody.querySelectorAll("tr.row");
    for (let i = MAX_ROWS; i < rows.length; i++) {
      if (rows[i].nextElementSibling?.classList.contains("detail-row")) rows[i].nextElementSibling.remove();
      rows[i].remove();
    }
  }
  async function reload() {
    const q = new URLSearchParams({ bodies: "false", limit: "200" });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    try {
      const { entries } = await api("GET", `/journal?${q}`);
      tbody.replaceChildren();
      if (!entries.length) tbody.append(h("tr", null, h("td", { class: "empty", colspan: 6 }, "No requests yet. Point your payment service (or an SDK) at this simulator and they appear here as they arrive.")));
      entries.forEach((e) => addRow(e, false));
      updateCount();
    } catch (err) { flash(err.message, true); }
  }
  await reload();
  return {
    onRequest(entry) {
      if (!wanted(entry)) return;
      if (paused) { held.unshift(entry); held.length = Math.min(held.length, MAX_ROWS); }
      else addRow(entry, true);
      updateCount();
    },
  };
};

// Detail rows left open survive a view's live re-render (keys: "r:SEQ", "d:ID").
const opened = new Set();
function reopen(key, open) { if (opened.has(key)) queueMicrotask(open); }

async function toggleDetail(row, entry) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("detail-row")) { next.remove(); row.classList.remove("open"); opened.delete(`r:${entry.seq}`); return; }
  opened.add(`r:${entry.seq}`);
  row.classList.add("open");
  const cell = h("td", { class: "detail", colspan: 6 }, h("span", { class: "muted" }, "loading…"));
  row.after(h("tr", { class: "detail-row" }, cell));
  try {
    const full = await api("GET", `/journal/${entry.seq}`);
    cell.replaceChildren(entryDetail(full));
  } catch (err) { cell.replaceChildren(h("span", { class: "muted" }, err.message)); }
}

function entryDetail(e) {
  const facts = h("dl", { class: "facts" },
    h("dt", null, "request id"), h("dd", { class: "mono" }, e.request_id),
    h("dt", null, "namespace"), h("dd", { class: "mono" }, e.namespace || "—"),
    e.operation ? [h("dt", null, "operation"), h("dd", null, e.operation)] : null,
    e.traceparent ? [h("dt", null, "traceparent"), h("dd", { class: "mono" }, e.traceparent)] : null,
    e.payments && e.payments.length ? [h("dt", null, "payment"), h("dd", null, e.payments.map((id) => h("a", { href: `#/payment/${encodeURIComponent(id)}`, class: "mono" }, id, " ")))] : null);
  const notes = [];
  if ((e.near_misses || []).length) {
    notes.push(h("h3", null, "No rule fired; the closest"), h("ul", { class: "list" }, e.near_misses.map((m) =>
      h("li", null, h("code", null, m.rule), " missed ", m.missed.map((f) => h("span", null, h("code", null, f.field), ` (wanted ${JSON.stringify(f.wanted)}, had ${JSON.stringify(f.actual)}) `))))));
  }
  if ((e.contract_violations || []).length) {
    notes.push(h("h3", null, "Contract violations"), h("ul", { class: "list" }, e.contract_violations.map((v) =>
      h("li", null, h("code", null, v.field), `: ${v.message} (${v.source})`))));
  }
  return h("div", null, facts, notes,
    h("div", { class: "grid2" },
      h("div", null, h("h3", null, "Request body"), h("pre", { class: "body" }, pretty(e.request))),
      h("div", null, h("h3", null, "Response body"), h("pre", { class: "body" }, pretty(e.response)))));
}

views.payments = async (root) => {
  const search = h("input", { type: "search", placeholder: "payment id (pi_…, pspReference, …)", size: 36 });
  const go = () => { if (search.value.trim()) location.hash = `#/payment/${encodeURIComponent(search.value.trim())}`; };
  search.addEventListener("keydown", (e) => { if (e.key === "Enter") go(); });
  const holder = h("div", { class: "panel flush" });
  root.append(h("h1", null, "Payments"),
    h("div", { class: "toolbar" }, search, h("button", { onclick: go }, "Open")), holder);
  async function refresh() {
    const { payments } = await api("GET", "/payments?limit=200");
    holder.replaceChildren(table([["created (virtual)"], ["id"], ["provider"], ["status"], ["amount", "num"], ["card"]],
      payments.map((p) => {
        const row = h("tr", { class: "row", dataset: { payment: p.id } },
          h("td", { class: "mono" }, clockDate(p.created)), h("td", { class: "mono" }, p.id), h("td", null, p.provider),
          h("td", null, stateBadge(p.status), p.decline ? h("span", { class: "muted" }, ` ${p.decline}`) : null),
          h("td", { class: "num" }, money(p.amount, p.currency)),
          h("td", { class: "muted" }, p.card ? `${p.card.brand} ${p.card.bin}…${p.card.last4}` : "—"));
        row.addEventListener("click", () => { location.hash = `#/payment/${encodeURIComponent(p.id)}`; });
        return row;
      }), "No payments yet."));
  }
  await refresh();
  return { onRequest: throttled(() => refresh().catch(() => {})) };
};

const PENDING = new Set(["requires_action", "pending", "created"]);

views.payment = async (root, id) => {
  const holder = h("div");
  root.append(h("div", { class: "toolbar" }, h("a", { href: "#/payments" }, "← Payments")), holder);
  async function refresh() {
    let data;
    try { data = await api("GET", `/payments/${encodeURIComponent(id)}/explain`); }
    catch (err) { holder.replaceChildren(h("div", { class: "panel empty" }, err.message)); return; }
    const p = data.payment;
    const actions = PENDING.has(p.status) ? h("div", { class: "toolbar" }, h("span", { class: "muted" }, "Finish it as the shopper would:"),
      ["success", "failure", "canceled", "expired"].map((outcome) => h("button", { class: "small", onclick: async () => {
        try { await api("POST", `/payments/${encodeURIComponent(p.id)}/complete`, { outcome }); flash(`Completed: ${outcome}`); refresh(); }
        catch (err) { flash(err.message, true); }
      } }, outcome))) : null;
    holder.replaceChildren(
      h("div", { class: "panel" },
        h("div", { class: "scenario-head" }, h("h1", { class: "payment-id", id: "payment-id" }, p.id), stateBadge(p.status), h("span", { class: "grow" })),
        h("dl", { class: "facts" },
          h("dt", null, "provider"), h("dd", null, p.provider),
          h("dt", null, "namespace"), h("dd", { class: "mono" }, p.namespace),
          h("dt", null, "amount"), h("dd", null, money(p.amount, p.currency), h("span", { class: "muted" }, ` · authorized ${money(p.amount_authorized, p.currency)} · captured ${money(p.amount_captured, p.currency)} · refunded ${money(p.amount_refunded, p.currency)}`)),
          p.card ? [h("dt", null, "card"), h("dd", null, `${p.card.brand} ${p.card.bin}…${p.card.last4}`)] : null,
          p.decline ? [h("dt", null, "decline"), h("dd", null, `${p.decline}${p.decline_code ? ` (${p.decline_code})` : ""}`)] : null,
          p.credential ? [h("dt", null, "initiated by"), h("dd", { id: "payment-credential" }, credentialText(p.credential))] : null,
          h("dt", null, "created"), h("dd", null, clockDate(p.created))),
        actions),
      h("div", { class: "grid2" },
        section("State history", table([["at (virtual)"], ["action"], ["status"], ["amount", "num"], ["detail"]],
          p.history.map((s) => h("tr", null, h("td", { class: "mono" }, clockTime(s.at)), h("td", null, s.action), h("td", null, stateBadge(s.status)),
            h("td", { class: "num" }, s.amount === null || s.amount === undefined ? "" : money(s.amount, p.currency)), h("td", { class: "muted" }, s.detail ?? ""))), "No history.")),
        h("div", null,
          section("Scenario rules that fired", data.rules.length ? h("ul", { class: "list", id: "payment-rules" }, data.rules.map((r) => h("li", null, h("code", null, r.rule), h("span", { class: "muted" }, ` on ${r.requests} request${r.requests === 1 ? "" : "s"}`))))
            : h("p", { class: "muted" }, "None: no loaded scenario changed this payment.")),
          section("Contract violations", data.contract_violations.length ? h("ul", { class: "list" }, data.contract_violations.map((v) => h("li", null, h("code", null, `${v.method} ${v.path}`), " ", h("code", null, v.field), `: ${v.message}`)))
            : h("p", { class: "muted" }, "None: every request for it kept its contract.")))),
      section("Requests", h("div", { class: "panel flush", id: "payment-requests" }, requestTable(data.requests))),
      section("Webhook deliveries", h("div", { class: "panel flush" }, deliveryTable(data.deliveries, refresh))));
  }
  await refresh();
  const polling = setInterval(refresh, POLL_MS);  // its webhook attempts, as they happen
  return { onRequest: throttled(() => refresh()), leave() { clearInterval(polling); } };
};

function credentialText(c) {
  const parts = [c.initiator === "merchant" ? `the merchant (${c.mit_type ?? "card on file"}), without the customer` : "the customer"];
  if (c.saves) parts.push("saves the card");
  if (c.stored_method) parts.push(`saved card ${c.stored_method}`);
  if (c.network_transaction_id) parts.push(`network transaction id ${c.network_transaction_id}`);
  if (c.original_network_transaction_id) parts.push(`quoting ${c.original_network_transaction_id}`);
  return parts.join(" · ");
}

function requestTable(entries) {
  const rows = entries.map((e) => {
    const row = h("tr", { class: "row", dataset: { seq: e.seq } }, h("td", { class: "mono" }, clockTime(e.at)),
      h("td", { class: "path" }, h("b", null, e.method), " ", e.path), h("td", null, statusBadge(e.status)),
      h("td", { class: "num" }, e.duration_ms.toFixed(1)), h("td", null, tagsOf(e)));
    row.addEventListener("click", () => toggleDetail(row, e));
    reopen(`r:${e.seq}`, () => toggleDetail(row, e));
    return row;
  });
  return table([["time (virtual)"], ["request"], ["status"], ["ms", "num"], ["scenario, faults, contracts"]], rows, "No request in the journal names it (the journal may have moved on).");
}

function deliveryTable(deliveries, after) {
  const rows = deliveries.map((d) => {
    const last = d.attempts[d.attempts.length - 1];
    const redeliver = h("button", { class: "small redeliver", onclick: async (event) => {
      event.stopPropagation();
      redeliver.disabled = true;
      try {
        const sent = await api("POST", `/webhooks/deliveries/${encodeURIComponent(d.id)}/redeliver`, {});
        flash(`Sent again as ${sent.id}`);
        await after();
      } catch (err) { flash(err.message, true); redeliver.disabled = false; }
    } }, "Redeliver");
    const row = h("tr", { class: "row", dataset: { delivery: d.id, event: d.event_id } },
      h("td", null, h("code", null, d.event_type), h("div", { class: "muted mono" }, d.event_id)),
      h("td", null, d.provider),
      h("td", null, stateBadge(d.state), d.failure ? h("div", { class: "muted" }, d.failure) : null),
      h("td", { class: "num attempts" }, d.attempts.length),
      h("td", null, last ? [statusBadge(last.status), " ", h("span", { class: "muted" }, last.error || `${last.duration_ms} ms`)] : null,
        d.next_attempt_at ? h("div", { class: "muted" }, `next try ${clockTime(d.next_attempt_at)} (virtual)`) : last ? null : "—"),
      h("td", { class: "path" }, d.url),
      h("td", null, redeliver));
    row.addEventListener("click", () => toggleDelivery(row, d));
    reopen(`d:${d.id}`, () => toggleDelivery(row, d));
    return row;
  });
  return table([["event"], ["provider"], ["state"], ["attempts", "num"], ["last attempt"], ["to"], [""]], rows,
    "No deliveries. Configure an endpoint (PUT /__admin/webhooks/{provider}) and webhooks appear here.");
}

async function toggleDelivery(row, d) {
  const next = row.nextElementSibling;
  if (next && next.classList.contains("detail-row")) { next.remove(); row.classList.remove("open"); opened.delete(`d:${d.id}`); return; }
  opened.add(`d:${d.id}`);
  row.classList.add("open");
  const cell = h("td", { class: "detail", colspan: 7 }, "loading…");
  row.after(h("tr", { class: "detail-row" }, cell));
  try {
    const full = await api("GET", `/webhooks/deliveries/${encodeURIComponent(d.id)}`);
    cell.replaceChildren(h("div", { class: "grid2" },
      h("div", null, h("h3", null, "Attempts"), table([["at (virtual)"], ["status"], ["error"], ["ms", "num"]],
        full.attempts.map((a) => h("tr", null, h("td", { class: "mono" }, clockTime(a.at)), h("td", null, statusBadge(a.status)), h("td", null, a.error || "—"), h("td", { class: "num" }, a.duration_ms))), "No attempt yet.")),
      h("div", null, h("h3", null, "Event body"), h("pre", { class: "body" }, pretty(full.body)))));
  } catch (err) { cell.replaceChildren(err.message); }
}

views.webhooks = async (root) => {
  const filters = { provider: "", state: "" };
  const summary = h("div", { class: "panel" });
  const holder = h("div", { class: "panel flush" });
  root.append(h("h1", null, "Webhooks"), summary,
    h("div", { class: "toolbar" },
      h("select", { onchange: (e) => { filters.provider = e.target.value; refresh(); } }, h("option", { value: "" }, "all providers"), providers.map((p) => h("option", { value: p }, p))),
      h("select", { onchange: (e) => { filters.state = e.target.value; refresh(); } }, h("option", { value: "" }, "any state"), ["pending", "delivering", "delivered", "failed"].map((s) => h("option", { value: s }, s)))),
    holder);
  async function refresh() {
    const q = new URLSearchParams({ limit: "200" });
    for (const [k, v] of Object.entries(filters)) if (v) q.set(k, v);
    const [config, { deliveries }] = await Promise.all([api("GET", "/webhooks"), api("GET", `/webhooks/deliveries?${q}`)]);
    const counts = config.deliveries;
    const endpoints = Object.entries(config.endpoints).flatMap(([p, list]) => list.map((e) => h("li", null, h("b", null, p), " → ", h("code", null, e.url))));
    summary.replaceChildren(h("div", { class: "grid2" },
      h("div", null, h("h3", null, "Endpoints"), endpoints.length ? h("ul", { class: "list" }, endpoints) : h("p", { class: "muted" }, "None configured (--webhook PROVIDER=URL, or PUT /__admin/webhooks/{provider}).")),
      h("div", null, h("h3", null, "Deliveries since start"), h("div", { class: "chips" }, Object.entries(counts).map(([k, v]) => h("span", { class: `badge ${STATE_KIND[k] || ""}` }, `${k} ${v}`))))));
    holder.replaceChildren(deliveryTable(deliveries, refresh));
  }
  await refresh();
  // Attempts and retries happen after the request that caused them: read them again.
  const polling = setInterval(() => refresh().catch(() => {}), POLL_MS);
  return { onRequest: throttled(() => refresh().catch(() => {})), leave() { clearInterval(polling); } };
};

const TEMPLATE = `name: stripe-declines-large
description: Large Stripe payments are declined for insufficient funds
rules:
  - name: large-declined
    match: {provider: stripe, amount: {gte: 50000}}
    outcome: {decline: insufficient_funds}
`;

views.scenarios = async (root) => {
  const list = h("div", { id: "scenario-list" });
  const editor = scenarioEditor(() => refresh());
  root.append(h("h1", null, "Scenarios"), h("div", { class: "grid-side" }, list, editor.element));
  async function refresh() {
    const { scenarios } = await api("GET", "/scenarios");
    list.replaceChildren(...(scenarios.length ? scenarios.map((s) => scenarioCard(s, refresh, editor))
      : [h("div", { class: "panel empty" }, "No scenario loaded. Write one in the editor, or load a file with --scenario.")]));
  }
  await refresh();
  return { onRequest: throttled(() => refresh().catch(() => {})) };
};

function counterRows(rules) {
  const most = Math.max(1, ...rules.map((r) => r.matched));
  return rules.map((r) => h("tr", { dataset: { rule: r.name } },
    h("td", null, h("code", null, r.name)),
    h("td", { class: "num matched" }, r.matched),
    h("td", { class: "num applied" }, r.applied),
    h("td", null, h("div", { class: "counter" }, h("div", { class: "bar" }, barFill(r.applied / most))))));
}
function barFill(fraction) {
  const span = h("span");
  span.style.width = `${Math.round(Math.min(1, fraction) * 100)}%`;
  return span;
}

function scenarioCard(s, refresh, editor) {
  const act = (label, method, path, cls) => h("button", { class: `small ${cls || ""}`, onclick: async () => {
    try { await api(method, path); flash(`${label}: ${s.name}`); refresh(); }
    catch (err) { flash(err.message, true); }
  } }, label);
  const name = encodeURIComponent(s.name);
  const state = s.started ? `running for ${duration(s.elapsed_s)}` : "waiting for start";
  const rules = s.rules.length ? h("table", null, h("thead", null, h("tr", null, h("th", null, "rule"), h("th", { class: "num" }, "matched"), h("th", { class: "num" }, "applied"), h("th", null, ""))),
    h("tbody", null, counterRows(s.rules))) : null;
  return h("div", { class: "panel scenario", dataset: { scenario: s.name } },
    h("div", { class: "scenario-head" }, h("h2", null, s.name), h("span", { class: `badge ${s.started ? "ok" : "warn"}` }, state), h("span", { class: "grow" }),
      act(s.started ? "Restart" : "Start", "POST", `/scenarios/${name}/start`),
      h("button", { class: "small", onclick: () => editor.open(s) }, "Edit"),
      act("Unload", "DELETE", `/scenarios/${name}`, "danger")),
    s.description ? h("p", { class: "muted" }, s.description) : null,
    h("div", { class: "muted mono" }, s.source),
    rules ? [h("h3", null, "Rules"), rules] : null,
    s.phases.length ? [h("h3", null, "Phases"), timeline(s), phaseRules(s)] : null);
}

function timeline(s) {
  const ends = s.phases.map((p) => p.after_s + Math.max(p.for_s, p.repeat_s || 0));
  const span = Math.max(...ends, s.elapsed_s || 0, 1) * 1.05;
  const pct = (t) => `${(t / span) * 100}%`;
  const bar = h("div", { class: "timeline" });
  for (const p of s.phases) {
    const when = `${duration(p.after_s)}–${duration(p.after_s + p.for_s)}${p.repeat_s ? `, every ${duration(p.repeat_s)}` : ""}`;
    const el = h("div", { class: `phase${p.active ? " active" : ""}`, dataset: { phase: p.name }, title: `${p.name}: ${when}` },
      p.name, h("span", { class: "when" }, ` ${when}`));
    el.style.left = pct(p.after_s);
    el.style.width = `max(${pct(p.for_s)}, 4px)`;
    bar.append(el);
  }
  const start = h("span", { class: "tick first" }, "start");
  const end = h("span", { class: "tick last" }, duration(span / 1.05));
  end.style.left = pct(span / 1.05);
  bar.append(start, end);
  if (s.started) {
    const now = h("div", { class: "now", dataset: { label: `now ${duration(s.elapsed_s)}` } });
    now.style.left = pct(Math.min(s.elapsed_s, span));
    bar.append(now);
  }
  return bar;
}

function phaseRules(s) {
  const rows = s.phases.flatMap((p) => p.rules.map((r) => h("tr", null,
    h("td", null, p.name, p.active ? [" ", h("span", { class: "badge warn" }, "now")] : null), h("td", null, h("code", null, r.name)),
    h("td", { class: "num" }, r.matched), h("td", { class: "num" }, r.applied))));
  return rows.length ? h("table", null, h("thead", null, h("tr", null, h("th", null, "phase"), h("th", null, "rule"), h("th", { class: "num" }, "matched"), h("th", { class: "num" }, "applied"))), h("tbody", null, rows)) : null;
}

function scenarioEditor(onLoaded) {
  const fileName = h("input", { type: "text", id: "scenario-file", value: "scenario.yaml", size: 24, title: "the file name the problems are reported against" });
  const textarea = h("textarea", { id: "scenario-text", spellcheck: "false", autocomplete: "off", wrap: "off", "aria-label": "scenario YAML" });
  const gutter = h("div", { class: "gutter" });
  const backdrop = h("div", { class: "backdrop", "aria-hidden": "true" });
  const problemsList = h("ul", { class: "problems", id: "scenario-problems" });
  const verdict = h("div", { class: "verdict", id: "scenario-verdict" });
  const loadButton = h("button", { class: "primary", id: "scenario-load", disabled: true }, "Load");
  let latest = 0;
  let current = null;  // the last validation answer

  function render(problems) {
    const lines = textarea.value.split("\n");
    const byLine = new Map();
    for (const p of problems) if (!byLine.has(p.line)) byLine.set(p.line, p);
    gutter.replaceChildren(...lines.map((_, i) => h("div", { class: byLine.has(i + 1) ? "error" : "", title: byLine.get(i + 1)?.text }, i + 1)));
    backdrop.replaceChildren(...lines.map((text, i) => {
      const p = byLine.get(i + 1);
      if (!p) return h("div", { class: "line" }, text || " ");
      const at = Math.max(0, p.column - 1);
      return h("div", { class: "line error", dataset: { line: i + 1 } }, text.slice(0, at), h("span", { class: "mark" }, text.slice(at) || " "),
        h("span", { class: "inline-msg" }, `← ${p.line}:${p.column} ${p.path}: ${p.message}`));
    }));
    sync();
  }
  function sync() {
    gutter.scrollTop = textarea.scrollTop;
    backdrop.scrollTop = textarea.scrollTop;
    backdrop.scrollLeft = textarea.scrollLeft;
  }
  async function validate() {
    const ticket = ++latest;
    let answer;
    try { answer = await api("POST", "/scenarios/validate", { yaml: textarea.value, source: fileName.value.trim() || "scenario.yaml" }); }
    catch (err) { if (ticket === latest) { verdict.className = "verdict bad"; verdict.textContent = err.message; } return; }
    if (ticket !== latest) return;  // a newer keystroke's answer is on its way
    current = answer;
    render(answer.problems);
    problemsList.replaceChildren(...answer.problems.map((p) => h("li", { onclick: () => jump(p) }, p.text)));
    if (answer.valid) {
      verdict.className = "verdict ok";
      verdict.textContent = `Valid: scenario “${answer.name}”${answer.loaded ? " (loading replaces the running one)" : ""}.`;
    } else {
      verdict.className = "verdict bad";
      verdict.textContent = `${answer.problems.length} problem${answer.problems.length === 1 ? "" : "s"}; fix ${answer.problems.length === 1 ? "it" : "them"} to load.`;
    }
    loadButton.disabled = !answer.valid;
  }
  function jump(p) {
    const lines = textarea.value.split("\n");
    let offset = 0;
    for (let i = 0; i < p.line - 1 && i < lines.length; i++) offset += lines[i].length + 1;
    offset += Math.max(0, p.column - 1);
    textarea.focus();
    textarea.setSelectionRange(offset, offset);
  }
  let timer = null;
  textarea.addEventListener("input", () => { render(current ? current.problems : []); clearTimeout(timer); timer = setTimeout(validate, 200); });
  textarea.addEventListener("scroll", sync);
  textarea.addEventListener("keydown", (e) => {
    if (e.key === "Tab") {  // two spaces: YAML refuses tabs
      e.preventDefault();
      textarea.setRangeText("  ", textarea.selectionStart, textarea.selectionEnd, "end");
      textarea.dispatchEvent(new Event("input"));
    }
  });
  fileName.addEventListener("change", validate);
  loadButton.addEventListener("click", async () => {
    if (!current || !current.valid) return;
    loadButton.disabled = true;
    try {
      await api("PUT", `/scenarios/${encodeURIComponent(current.name)}`, textarea.value, "application/yaml");
      verdict.className = "verdict ok";
      verdict.textContent = `Loaded “${current.name}”: its rules apply to the next requests.`;
      flash(`Loaded scenario ${current.name}`);
      onLoaded();
    } catch (err) {
      verdict.className = "verdict bad";
      verdict.textContent = err.message;
      const problems = (err.data && err.data.error && err.data.error.problems) || [];
      problemsList.replaceChildren(...problems.map((p) => h("li", null, p)));
    } finally { loadButton.disabled = !(current && current.valid); }
  });
  textarea.value = TEMPLATE;
  render([]);
  validate();
  const element = h("div", { class: "panel" },
    h("div", { class: "toolbar" }, h("h2", { class: "grow" }, "Editor"), h("label", { class: "field" }, "file", fileName), loadButton),
    h("div", { class: "editor" }, gutter, h("div", { class: "surface" }, backdrop, textarea)),
    verdict, problemsList,
    h("p", { class: "muted" }, "Checked as you type against the scenario schema (the same checks as ", h("code", null, "paysandbox validate"), "); nothing is loaded until you press Load."));
  return {
    element,
    open(s) {
      // The running document, as JSON (which YAML reads as it is).
      textarea.value = JSON.stringify(s.document, null, 2) + "\n";
      fileName.value = s.source.includes("/") ? s.source.split("/").pop() : `${s.name}.yaml`;
      render([]);
      validate();
      textarea.focus();
    },
  };
}

views.clock = async (root) => {
  const now = h("div", { class: "big-clock", id: "clock-big" });
  const facts = h("dl", { class: "facts" });
  const custom = h("input", { type: "text", id: "advance-by", placeholder: "90s, 15m, 2h, 3d", size: 16 });
  async function advance(by) {
    try { await api("POST", "/clock/advance", { by }); flash(`Clock advanced by ${by}`); refresh(); }
    catch (err) { flash(err.message, true); }
  }
  custom.addEventListener("keydown", (e) => { if (e.key === "Enter" && custom.value.trim()) advance(custom.value.trim()); });
  root.append(h("h1", null, "Clock"),
    h("div", { class: "panel" }, h("div", { class: "muted" }, "virtual now"), now, facts),
    h("div", { class: "panel" }, h("h2", null, "Advance"),
      h("p", { class: "muted" }, "Moves the virtual clock forward: due retries, expiries, settlements and webhook retries run as if the time had passed."),
      h("div", { class: "toolbar" }, ["1m", "1h", "1d", "7d"].map((by) => h("button", { onclick: () => advance(by) }, `+${by}`)),
        custom, h("button", { class: "primary", id: "advance", onclick: () => custom.value.trim() && advance(custom.value.trim()) }, "Advance"))));
  async function refresh() {
    const clock = await refreshClock();
    if (!clock) return;
    now.textContent = clockDate(clock.now);
    facts.replaceChildren(h("dt", null, "ahead of real time"), h("dd", { id: "clock-offset" }, duration(clock.offset)),
      h("dt", null, "speed"), h("dd", null, clock.scale === 1 ? "real time" : `${clock.scale}× real time`));
  }
  await refresh();
  const ticking = setInterval(refresh, 1000);
  return { leave() { clearInterval(ticking); } };
};

views.contracts = async (root) => {
  const holder = h("div");
  root.append(h("h1", null, "Contracts"), holder);
  async function refresh() {
    const report = await api("GET", "/contracts");
    const rows = report.groups.map((g) => h("tr", null, h("td", null, g.provider), h("td", null, g.operation), h("td", null, g.source),
      h("td", null, h("code", null, g.field)), h("td", null, g.kind), h("td", { class: "num" }, g.count),
      h("td", { class: "muted" }, g.first.message || "", g.first.path ? h("div", { class: "mono" }, `${g.first.method || ""} ${g.first.path}`) : null)));
    holder.replaceChildren(
      h("div", { class: "toolbar" }, h("span", null, `Mode `, h("code", null, report.mode), report.check_responses ? " · responses checked too" : ""),
        h("span", { class: "grow" }), h("span", { class: `badge ${report.total ? "warn" : "ok"}`, id: "contracts-total" }, `${report.total} violation${report.total === 1 ? "" : "s"}`),
        h("button", { class: "danger", onclick: async () => { await api("DELETE", "/contracts"); flash("Contract report cleared"); refresh(); } }, "Clear")),
      h("div", { class: "panel flush" }, table([["provider"], ["operation"], ["source"], ["field"], ["kind"], ["count", "num"], ["first example"]], rows,
        "No violations: every request kept its provider's contract.")));
  }
  await refresh();
  return { onRequest: throttled(() => refresh().catch(() => {})) };
};

// -- routing -------------------------------------------------------------------------

let active = null;

async function route() {
  const [, name = "requests", ...rest] = location.hash.replace(/^#/, "").split("/");
  const view = views[name] ? name : "requests";
  if (active && active.leave) active.leave();
  if (active && active.onRequest) live.listeners.delete(active.onRequest);
  active = null;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("current", a.dataset.view === (view === "payment" ? "payments" : view));
  const root = document.getElementById("view");
  root.replaceChildren();
  try {
    const made = await views[view](root, decodeURIComponent(rest.join("/")));
    active = made || {};
    if (active.onRequest) live.listeners.add(active.onRequest);
  } catch (err) {
    root.append(h("div", { class: "panel empty" }, err.message));
  }
}

async function start() {
  try { providers = (await api("GET", "/health")).providers; } catch (err) { flash(err.message, true); }
  refreshClock();
  setInterval(refreshClock, 5000);
  connectLive();
  window.addEventListener("hashchange", route);
  await route();
  document.body.dataset.ready = "true";
}

start();
