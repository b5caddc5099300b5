// The dashboard: reads /health, /usage and /usage/requests every few seconds and shows them.
// It only reads. The key, when the proxy has one, is kept in this tab's session storage and
// sent as a header; the tray hands it over with a one-time ticket in the address's fragment,
// which is removed before anything else happens. Text from the server is always set as text
// (never as HTML): a model or client name cannot run script here.
"use strict";

const KEY_STORE = "claude-sdk-proxy.key";
const POLL_MS = 2000;
const WINDOW_NAMES = {
  five_hour: "5-hour limit",
  seven_day: "Weekly limit",
  seven_day_opus: "Weekly Opus limit",
  seven_day_sonnet: "Weekly Sonnet limit",
  seven_day_overage_included: "Weekly limit (with extra usage)",
  overage: "Extra usage",
};
const ERROR_WORDS = {
  authentication_error: "Not logged in, or the login has expired",
  permission_error: "Refused: not allowed",
  rate_limit_error: "Rate limited (a plan limit, or the proxy's queue is full)",
  overloaded_error: "The upstream was overloaded",
  api_error: "The upstream failed",
  billing_error: "Refused as extra usage (billing)",
  invalid_request_error: "The request was not valid",
  not_found_error: "Unknown endpoint or model",
  request_too_large: "The request was too large",
  timeout_error: "Timed out",
  client_closed: "The client left before the answer ended",
};
const API_NAMES = { anthropic: "Messages", openai_chat: "Chat", openai_responses: "Responses" };

let apiKey = sessionStorage.getItem(KEY_STORE);
let windows = {};
let polling = null;

class NeedsKey extends Error {}

function el(tag, attributes, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) {
    if (value !== undefined && value !== null) node.setAttribute(name, value);
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  return node;
}

function count(value) {
  const number = Number(value || 0);
  if (number >= 1e6) return (number / 1e6).toFixed(1) + "M";
  if (number >= 1e4) return (number / 1e3).toFixed(1) + "k";
  return number.toLocaleString();
}

function milliseconds(value) {
  if (value === null || value === undefined) return "–";
  return value >= 1000 ? (value / 1000).toFixed(1) + " s" : Math.round(value) + " ms";
}

function clock(unixSeconds, withSeconds = false) {
  const when = new Date(unixSeconds * 1000);
  const sameDay = when.toDateString() === new Date().toDateString();
  const parts = { hour: "2-digit", minute: "2-digit", ...(withSeconds ? { second: "2-digit" } : {}) };
  const time = when.toLocaleTimeString([], parts);
  return sameDay ? time : when.toLocaleDateString([], { weekday: "short" }) + " " + time;
}

function countdown(unixSeconds) {
  let left = Math.max(0, Math.round(unixSeconds - Date.now() / 1000));
  const days = Math.floor(left / 86400);
  left %= 86400;
  const hours = Math.floor(left / 3600);
  const minutes = Math.floor((left % 3600) / 60);
  if (days) return `${days} d ${hours} h`;
  if (hours) return `${hours} h ${minutes} min`;
  if (minutes) return `${minutes} min ${left % 60} s`;
  return `${left % 60} s`;
}

function ago(unixSeconds) {
  const seconds = Math.max(0, Math.round(Date.now() / 1000 - unixSeconds));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

async function get(path) {
  const headers = apiKey ? { "x-api-key": apiKey } : {};
  const response = await fetch(path, { headers, cache: "no-store" });
  if (response.status === 401) throw new NeedsKey("The key was refused.");
  if (!response.ok) throw new Error(`${path} answered ${response.status}`);
  return response.json();
}

async function redeemTicket() {
  const match = /^#ticket=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!match) return;
  // Out of the address (and so of the history) before anything else.
  history.replaceState(null, "", location.pathname);
  const response = await fetch("/dashboard/ticket", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ticket: match[1] }),
  });
  const body = await response.json().catch(() => ({}));
  if (response.ok && body.api_key) {
    apiKey = body.api_key;
    sessionStorage.setItem(KEY_STORE, apiKey);
  } else if (!response.ok) {
    document.getElementById("key-error").textContent =
      (body.error && body.error.message) || "The tray's link did not work.";
  }
}

function showKeyForm(reason) {
  document.getElementById("board").hidden = true;
  document.getElementById("key-form").hidden = false;
  document.getElementById("state").textContent = "Needs the key";
  document.getElementById("state").dataset.state = "warning";
  if (reason) document.getElementById("key-error").textContent = reason;
  document.getElementById("key-input").focus();
}

function renderState(health) {
  const state = document.getElementById("state");
  const ok = health.status === "ok";
  state.textContent = ok ? "Running" : "Needs attention";
  state.dataset.state = ok ? "ok" : "degraded";
  document.getElementById("version").textContent = health.version ? `v${health.version}` : "";
  const cli = health.cli || {};
  let login = "Checking…";
  if (cli.found === false) login = "Claude Code CLI not found";
  else if (cli.logged_in) {
    const plan = cli.subscription_type ? `, ${cli.subscription_type} plan` : "";
    login = `Logged in (${cli.auth_method || "unknown method"}${plan})`;
  } else if (cli.logged_in === false) login = "Not logged in: run `claude /login`";
  document.getElementById("login").textContent = login;
  document.getElementById("billing").textContent =
    health.auth_mode === "subscription"
      ? "Your Claude subscription"
      : "An API key (ANTHROPIC_API_KEY): requests are billed to it, not your subscription";
  document.getElementById("base-url").textContent = location.origin;
  const requests = health.requests || {};
  const clis = health.clis_waiting || {};
  document.getElementById("load").textContent =
    `${requests.active || 0} answering, ${requests.queued || 0} waiting · ` +
    `CLIs kept ${clis.kept || 0}, spare ${clis.spares || 0}`;
}

function renderProblems(health) {
  const words = [...(health.problems || [])].map((text) => ({ text, bad: true }));
  if (health.billing_warning) {
    words.push({ text: `Billing: ${health.billing_warning.message}`, bad: true });
  }
  if (health.auth_mode && health.auth_mode !== "subscription") {
    words.push({
      text: "ANTHROPIC_API_KEY is set: requests are billed to that API key, not your subscription.",
      bad: false,
    });
  }
  for (const [name, window] of Object.entries(windows)) {
    const used = window.utilization || 0;
    if (name !== "overage" && window.status !== "rejected" && used >= 0.8) {
      words.push({
        text: `${Math.round(used * 100)}% of the ${WINDOW_NAMES[name] || name} is used; ` +
          `it resets at ${clock(window.resets_at)}.`,
        bad: false,
      });
    }
  }
  const box = document.getElementById("problems");
  box.replaceChildren(
    ...words.map((w) => el("div", { class: w.bad ? "problem bad" : "problem", role: "alert" }, w.text)),
  );
}

function renderWindows() {
  const entries = Object.entries(windows).filter(([name]) => name !== "overage");
  const box = document.getElementById("windows");
  if (!entries.length) return;
  const order = (name) => Object.keys(WINDOW_NAMES).indexOf(name) + (name in WINDOW_NAMES ? 0 : 99);
  entries.sort(([a], [b]) => order(a) - order(b));
  const rows = entries.map(([name, window]) => {
    const used = window.utilization === null ? null : Math.round(window.utilization * 100);
    const level =
      window.status === "rejected" ? "used-up" : (window.utilization || 0) >= 0.8 ? "warning" : "ok";
    const reset = window.resets_at
      ? `resets in ${countdown(window.resets_at)} (${clock(window.resets_at)})`
      : "reset time unknown";
    const note = window.reset_since_report
      ? "reset since the last report"
      : `reported ${ago(window.updated_at)}`;
    return el(
      "div",
      { class: "window", "data-window": name },
      el(
        "div",
        { class: "window-head" },
        el("span", { class: "window-name" }, WINDOW_NAMES[name] || name.replaceAll("_", " ")),
        el("span", { class: "percent" }, used === null ? "–" : `${used}%`),
      ),
      el(
        "div",
        { class: "track" },
        bar(level, used || 0),
      ),
      el(
        "div",
        { class: "quiet" },
        window.status === "rejected" ? `Used up · ${reset}` : `${reset} · ${note}`,
      ),
    );
  });
  const overage = windows.overage;
  if (overage) {
    rows.push(
      el("p", { class: "quiet" }, `Extra usage beyond the plan: ${overage.status === "rejected" ? "off" : "on"}`),
    );
  }
  box.replaceChildren(...rows);
}

function bar(level, percent) {
  const fill = el("div", { class: "fill", "data-level": level });
  // Through the CSSOM: the page's policy refuses style attributes.
  fill.style.width = `${Math.min(percent, 100)}%`;
  return fill;
}

function figure(value, label) {
  return el("div", { class: "figure" }, el("b", {}, value), el("span", {}, label));
}

function splitTable(id, split) {
  const rows = Object.entries(split || {}).map(([name, totals]) =>
    el(
      "tr",
      {},
      el("td", {}, name),
      el("td", { class: "num" }, `${count(totals.requests)} req`),
      el("td", { class: "num" }, `${count(totals.input_tokens)} in / ${count(totals.output_tokens)} out`),
      el("td", { class: "num" }, totals.errors ? `${totals.errors} failed` : ""),
    ),
  );
  document.getElementById(id).replaceChildren(...(rows.length ? rows : [el("tr", {}, el("td", { class: "quiet" }, "None yet"))]));
}

function renderTraffic(usage) {
  const day = usage.last_24h;
  const ttft = day.first_token_ms || {};
  document.getElementById("totals").replaceChildren(
    figure(count(day.requests), "requests"),
    figure(count(day.errors), "failed"),
    figure(count(day.input_tokens), "input tokens"),
    figure(count(day.output_tokens), "output tokens"),
    figure(count(day.cache_read_input_tokens), "cache reads"),
    figure(milliseconds(ttft.p50), "first token, median"),
    figure(milliseconds(ttft.p95), "first token, p95"),
  );
  const chart = document.getElementById("chart");
  const hours = usage.hourly || [];
  const most = Math.max(1, ...hours.map((h) => h.requests));
  const width = 480 / Math.max(hours.length, 1);
  const bars = [];
  hours.forEach((hour, index) => {
    const height = (hour.requests / most) * 112;
    const bar = svg("rect", {
      class: "requests",
      x: index * width + 1,
      y: 120 - height,
      width: width - 2,
      height,
    });
    const title = svg("title", {});
    title.textContent =
      `${clock(hour.start)}: ${hour.requests} requests, ${hour.errors} failed, ` +
      `${count(hour.input_tokens)} in / ${count(hour.output_tokens)} out`;
    bar.append(title);
    bars.push(bar);
    if (hour.errors) {
      const errors = (hour.errors / most) * 112;
      bars.push(svg("rect", { class: "errors", x: index * width + 1, y: 120 - errors, width: width - 2, height: errors }));
    }
  });
  chart.replaceChildren(...bars);
  splitTable("by-model", day.by_model);
  splitTable("by-client", day.by_client);
  const week = usage.last_7d;
  document.getElementById("week").textContent =
    `Last 7 days: ${count(week.requests)} requests (${count(week.errors)} failed), ` +
    `${count(week.input_tokens)} input and ${count(week.output_tokens)} output tokens.`;
}

function renderRequests(recent) {
  const rows = recent.requests.map((r) => {
    const failed = r.status >= 400 || r.error_type;
    const status = failed ? `${r.status} ${ERROR_WORDS[r.error_type] || r.error_type || ""}` : `${r.status}`;
    const row = el(
      "tr",
      { class: failed ? "failed" : "" },
      el("td", {}, clock(r.at, true)),
      el("td", {}, r.client),
      el("td", {}, r.model),
      el("td", {}, (API_NAMES[r.api] || r.api) + (r.stream ? ", streamed" : "")),
      el("td", {}, status.trim()),
      el("td", { class: "num" }, milliseconds(r.first_token_ms)),
      el("td", { class: "num" }, `${count(r.input_tokens)} / ${count(r.output_tokens)}`),
    );
    if (!failed || !r.error_message) return [row];
    return [row, el("tr", { class: "failed" }, el("td", { class: "reason", colspan: "7" }, r.error_message))];
  });
  document.querySelector("#requests tbody").replaceChildren(...rows.flat());
  document.getElementById("no-requests").hidden = rows.length > 0;
}

async function refresh() {
  try {
    const [usage, health, recent] = await Promise.all([
      get("/usage"),
      get("/health"),
      get("/usage/requests?limit=50"),
    ]);
    windows = usage.windows || {};
    document.getElementById("key-form").hidden = true;
    document.getElementById("board").hidden = false;
    renderState(health);
    renderProblems(health);
    renderWindows();
    renderTraffic(usage);
    renderRequests(recent);
    document.getElementById("updated").textContent = `Updated ${new Date().toLocaleTimeString()}`;
  } catch (error) {
    if (error instanceof NeedsKey) {
      stopPolling();
      sessionStorage.removeItem(KEY_STORE);
      const hadKey = Boolean(apiKey);
      apiKey = null;
      showKeyForm(hadKey ? "That key was refused." : "");
      return;
    }
    const state = document.getElementById("state");
    state.textContent = "Not answering";
    state.dataset.state = "down";
    document.getElementById("updated").textContent = `The proxy did not answer (${error.message})`;
  }
}

function startPolling() {
  stopPolling();
  refresh();
  polling = setInterval(refresh, POLL_MS);
}

function stopPolling() {
  if (polling !== null) clearInterval(polling);
  polling = null;
}

document.getElementById("key-entry").addEventListener("submit", (event) => {
  event.preventDefault();
  apiKey = document.getElementById("key-input").value.trim();
  document.getElementById("key-input").value = "";
  document.getElementById("key-error").textContent = "";
  sessionStorage.setItem(KEY_STORE, apiKey);
  startPolling();
});

// The countdowns move every second between polls.
setInterval(renderWindows, 1000);

redeemTicket().finally(startPolling);
