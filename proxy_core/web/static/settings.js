// The settings page: shows the settings the running server answers with, and sends changes.
// Reading takes the API key (when the proxy has one); changing also takes the settings pass,
// which only the tray's link (a one-time ticket in the address's fragment) or the API key
// hands over. Both stay in this tab's session storage. A change that restarts the server is
// followed until the server answers again, and the values shown are read back from it, so a
// change that did not take is seen. Text from the server is set as text, never as HTML.
"use strict";

const KEY_STORE = "claude-sdk-proxy.key";
const PASS_STORE = "claude-sdk-proxy.settings-pass";
const FOLLOW_MS = 300;
const FOLLOW_FOR_MS = 60000;
const REFRESH_MS = 5000; // the tray's menu and the login check change things too
const FIELDS = ["port", "network", "cors_origins", "conversations", "warm_pool", "cli_path",
  "debug", "start_at_login"];

let apiKey = sessionStorage.getItem(KEY_STORE);
let settingsPass = sessionStorage.getItem(PASS_STORE);
let shown = null; // the values last read from the server, as the form holds them
let busy = false;
let ended = false; // quit from this page: nothing answers any more

class NeedsKey extends Error {}

const byId = (id) => document.getElementById(id);

function headers(extra) {
  const all = { ...(extra || {}) };
  if (apiKey) all["x-api-key"] = apiKey;
  return all;
}

async function errorMessage(response) {
  try {
    const body = await response.json();
    return (body.error && body.error.message) || `HTTP ${response.status}`;
  } catch (_) {
    return `HTTP ${response.status}`;
  }
}

async function readState() {
  const response = await fetch("/settings/state", { headers: headers(), cache: "no-store" });
  if (response.status === 401) throw new NeedsKey(await errorMessage(response));
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.json();
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: headers({ "content-type": "application/json", "x-settings-pass": settingsPass || "" }),
    body: JSON.stringify(body),
    cache: "no-store",
  });
  if (!response.ok) throw new Error(await errorMessage(response));
  return response.json();
}

function remember(key, pass) {
  if (key !== undefined) {
    apiKey = key || null;
    if (apiKey) sessionStorage.setItem(KEY_STORE, apiKey);
    else sessionStorage.removeItem(KEY_STORE);
  }
  if (pass !== undefined) {
    settingsPass = pass || null;
    if (settingsPass) sessionStorage.setItem(PASS_STORE, settingsPass);
    else sessionStorage.removeItem(PASS_STORE);
  }
}

async function redeemTicket() {
  const match = /^#ticket=([A-Za-z0-9_-]+)$/.exec(location.hash);
  if (!match) return;
  history.replaceState(null, "", location.pathname); // the ticket leaves the address first
  const response = await fetch("/settings/ticket", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ticket: match[1] }),
  });
  if (!response.ok) {
    tell(await errorMessage(response), "bad");
    return;
  }
  const handed = await response.json();
  remember(handed.api_key, handed.settings_pass);
}

function tell(message, kind) {
  const notice = byId("notice");
  notice.textContent = message;
  notice.className = `banner ${kind || ""}`;
  notice.hidden = !message;
}

function describe(value) {
  if (value === true) return "on";
  if (value === false) return "off";
  if (Array.isArray(value)) return value.length ? value.join(", ") : "none";
  if (value === null || value === undefined || value === "") return "–";
  return String(value);
}

function formValues(state) {
  const effective = state.effective;
  return {
    port: effective.port,
    network: effective.network,
    cors_origins: effective.cors_origins,
    conversations: effective.conversations,
    warm_pool: effective.warm_pool,
    cli_path: effective.cli_path || "",
    debug: effective.debug,
    start_at_login: Boolean(state.host.start_at_login),
  };
}

function readField(name) {
  const input = byId(name);
  if (input.type === "checkbox") return input.checked;
  if (input.type === "number") return input.value === "" ? null : Number(input.value);
  if (name === "cors_origins") {
    return input.value.split(/[\s,]+/).map((origin) => origin.trim()).filter(Boolean);
  }
  return input.value.trim();
}

function writeField(name, value) {
  const input = byId(name);
  if (input.type === "checkbox") input.checked = Boolean(value);
  else if (name === "cors_origins") input.value = value.join("\n");
  else input.value = value;
}

function same(a, b) {
  return JSON.stringify(a) === JSON.stringify(b);
}

function changes() {
  const changed = {};
  if (!shown) return changed;
  for (const name of FIELDS) {
    const value = readField(name);
    if (!same(value, shown[name])) changed[name] = name === "cli_path" && !value ? null : value;
  }
  return changed;
}

function edited(name) {
  return shown && !same(readField(name), shown[name]);
}

function render(state) {
  const values = formValues(state);
  // A field the person is editing keeps what they typed; the rest follow the server.
  for (const name of FIELDS) {
    if (!shown || !edited(name)) writeField(name, values[name]);
  }
  shown = values;
  const effective = state.effective;
  byId("now-base-url").textContent = state.base_url;
  byId("now-network").textContent = effective.network
    ? `reachable from other machines (${effective.host})`
    : "this machine only";
  byId("now-cors_origins").textContent = describe(effective.cors_origins);
  byId("now-conversations").textContent = describe(effective.conversations);
  byId("now-warm_pool").textContent = describe(effective.warm_pool);
  byId("now-debug").textContent = effective.debug ? "debug logging" : "normal logging";
  byId("config-path").textContent = state.host.config_path || "–";
  const cli = state.cli;
  byId("now-cli").textContent = !cli
    ? "not checked yet"
    : !cli.found
      ? "not found"
      : `Claude Code ${cli.version || "(version unknown)"} at ${cli.path}`;
  byId("now-key").textContent = effective.api_key_set
    ? "set: clients must send it"
    : "not set: only this machine can use the proxy";
  byId("key-shown").hidden = !(effective.api_key_set && apiKey);
  byId("key-value").value = apiKey || "";
  const note = state.host.desktop_note;
  byId("desktop-note").textContent = note || "";
  byId("desktop-note").hidden = !note;
  byId("quit-row").hidden = !state.writable;
  renderAccess(state);
  const pill = byId("state");
  pill.textContent = "Running";
  pill.dataset.state = "ok";
}

function renderAccess(state) {
  const locked = byId("locked");
  let reason = null;
  if (!state.writable) reason = state.read_only_reason;
  else if (!settingsPass) {
    reason = state.effective.api_key_set
      ? "This page can only show settings: open it with Settings… in the tray menu, or "
        + "unlock it with the API key, to change them."
      : "This page can only show settings: open it with Settings… in the tray menu to "
        + "change them.";
  }
  locked.textContent = reason || "";
  locked.hidden = !reason;
  const canChange = Boolean(state.writable && settingsPass) && !busy;
  for (const control of document.querySelectorAll("#changes input, #changes textarea, #key-set input, #key-set button, #quit")) {
    control.disabled = !canChange;
  }
  byId("save").disabled = !canChange || Object.keys(changes()).length === 0;
}

async function refresh() {
  try {
    const state = await readState();
    byId("key-form").hidden = true;
    byId("settings").hidden = false;
    render(state);
    return state;
  } catch (error) {
    if (error instanceof NeedsKey) {
      remember(null, undefined);
      byId("settings").hidden = true;
      byId("key-form").hidden = false;
      return null;
    }
    const pill = byId("state");
    pill.textContent = "Not answering";
    pill.dataset.state = "down";
    throw error;
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// After a change that restarts the server: ask until it answers with that change settled.
async function follow(changeId) {
  const until = Date.now() + FOLLOW_FOR_MS;
  while (Date.now() < until) {
    await sleep(FOLLOW_MS);
    let state;
    try {
      state = await readState();
    } catch (_) {
      continue; // restarting: refused connections, or the old server with the new key
    }
    const change = state.change;
    if (change && change.id === changeId && change.state !== "restarting") {
      render(state);
      return change;
    }
  }
  return { state: "failed", message: "The proxy did not answer within a minute; see the log." };
}

async function send(path, body) {
  busy = true;
  byId("save").disabled = true;
  tell("Applying…", "");
  try {
    const answer = await post(path, body);
    if (answer.next_url) {
      tell(answer.change.message + " Opening settings there…", "good");
      location.assign(answer.next_url); // a new origin: its ticket hands over key and pass
      return answer;
    }
    let change = answer.change;
    if (change.state === "restarting") {
      tell(change.message, "");
      change = await follow(change.id);
    }
    busy = false;
    await refresh();
    tell(change.message, change.state === "done" ? "good" : "bad");
    return answer;
  } catch (error) {
    busy = false;
    await refresh().catch(() => {});
    tell(error.message, "bad");
    return null;
  }
}

async function saveChanges(event) {
  event.preventDefault();
  const changed = changes();
  if ("port" in changed && !(Number.isInteger(changed.port) && changed.port >= 1 && changed.port <= 65535)) {
    tell("The port must be a whole number from 1 to 65535.", "bad");
    return;
  }
  for (const name of ["conversations", "warm_pool"]) {
    if (name in changed && !(Number.isInteger(changed[name]) && changed[name] >= 0)) {
      tell("Kept conversations and warm spares must be whole numbers, 0 or more.", "bad");
      return;
    }
  }
  if (Object.keys(changed).length) await send("/settings/changes", { changes: changed });
}

async function setKey(event) {
  event.preventDefault();
  const key = byId("new-key").value.trim();
  if (!key) {
    tell("Type the new key first, or generate one.", "bad");
    return;
  }
  const answer = await sendKey({ action: "set", key }, key);
  if (answer) byId("new-key").value = "";
}

async function sendKey(body, keyAfter) {
  // Once the server restarts it wants the new key: remember it before following the change.
  const before = apiKey;
  const answer = await post("/settings/api-key", body).catch((error) => {
    tell(error.message, "bad");
    return null;
  });
  if (!answer) return null;
  remember(body.action === "generate" ? answer.new_key : keyAfter, undefined);
  busy = true;
  tell(answer.change.message, "");
  const change = await follow(answer.change.id);
  if (change.state !== "done") remember(before, undefined);
  busy = false;
  await refresh().catch(() => {});
  let message = change.message;
  if (change.state === "done" && body.action === "generate") {
    message += " It is shown below: copy it into your clients now.";
    byId("key-value").type = "text";
    byId("key-show").textContent = "Hide";
  }
  tell(message, change.state === "done" ? "good" : "bad");
  return answer;
}

function generateKey() {
  const sure = window.confirm(
    "Make a new API key? Every client that uses the current key stops working until it is "
    + "given the new one.");
  if (sure) sendKey({ action: "generate" }, undefined);
}

function clearKey() {
  const sure = window.confirm(
    "Remove the API key? Clients may then call without one, from this machine only.");
  if (sure) sendKey({ action: "clear" }, "");
}

async function quitApp() {
  const sure = window.confirm(
    "Quit Claude SDK Proxy? Clients that use it stop working until it is started again.");
  if (!sure) return;
  const answer = await post("/settings/quit", {}).catch((error) => {
    tell(error.message, "bad");
    return null;
  });
  if (!answer) return;
  ended = true;
  byId("settings").hidden = true;
  const told = byId("ended");
  told.textContent = `${answer.change.message} Start it again from your applications `
    + "menu; this page can be closed.";
  told.hidden = false;
  const pill = byId("state");
  pill.textContent = "Quit";
  pill.dataset.state = "down";
}

async function unlockWithKey(event) {
  event.preventDefault();
  remember(byId("key-input").value.trim(), undefined);
  byId("key-error").textContent = "";
  const state = await refresh().catch(() => null);
  if (!state) {
    byId("key-error").textContent = "That key was not accepted.";
    return;
  }
  await unlockWithTheKey(state);
}

// Opened with the key but no tray link: where the proxy has a key, it unlocks changes too.
async function unlockWithTheKey(state) {
  if (!(state.writable && state.effective.api_key_set && apiKey && !settingsPass)) return;
  const response = await fetch("/settings/unlock", { method: "POST", headers: headers() });
  if (!response.ok) return;
  remember(undefined, (await response.json()).settings_pass);
  await refresh();
}

async function start() {
  byId("key-entry").addEventListener("submit", unlockWithKey);
  byId("changes").addEventListener("submit", saveChanges);
  byId("changes").addEventListener("input", () => {
    byId("save").disabled = busy || !settingsPass || Object.keys(changes()).length === 0;
  });
  byId("key-set").addEventListener("submit", setKey);
  byId("key-generate").addEventListener("click", generateKey);
  byId("key-clear").addEventListener("click", clearKey);
  byId("quit").addEventListener("click", quitApp);
  byId("key-show").addEventListener("click", () => {
    const field = byId("key-value");
    field.type = field.type === "password" ? "text" : "password";
    byId("key-show").textContent = field.type === "password" ? "Show" : "Hide";
  });
  byId("key-copy").addEventListener("click", async () => {
    await navigator.clipboard.writeText(byId("key-value").value);
    tell("API key copied.", "good");
  });
  await redeemTicket();
  setInterval(() => {
    if (!busy && !ended && !byId("settings").hidden) refresh().catch(() => {});
  }, REFRESH_MS);
  const state = await refresh().catch((error) => {
    tell(`The proxy did not answer: ${error.message}`, "bad");
    return null;
  });
  if (state) await unlockWithTheKey(state);
}

start();
