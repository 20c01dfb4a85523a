// Switchboard's pages. Every change is a call to the JSON API with the session's CSRF token;
// the few page actions that answer with HTML (/desk/lookup, ...) are rendered, and escaped, on
// the server. What changes comes back over the page's event stream (htmx SSE). Nothing here
// builds markup from data: text goes in with textContent.
"use strict";

function meta(name) {
  const m = document.querySelector('meta[name="' + name + '"]');
  return m ? m.content : "";
}

const csrf = () => meta("csrf-token");
// The server's clock minus the browser's: timers count in the server's time.
const skew = meta("server-now") ? Number(meta("server-now")) - Date.now() : 0;
const serverNow = () => Date.now() + skew;
const idleLimit = Number(meta("idle-lock-seconds") || 0) * 1000;
let lastActivity = Date.now();

async function request(method, path, body, accept) {
  const res = await fetch(path, {
    method,
    headers: { "content-type": "application/json", "x-csrf-token": csrf(), accept },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  lastActivity = Date.now();
  if (res.ok) return res;
  const data = await res.json().catch(() => ({}));
  // A wrong password or code in the unlock form is the form's error, not the end of the page.
  if (res.status === 401 && !path.endsWith("/session/unlock")) {
    if (data.code === "session_locked") {
      openUnlock();
      throw new Error("your session is locked: unlock it to go on");
    }
    window.location.assign("/login");
    throw new Error("your session has ended");
  }
  throw new Error(data.message || ("the server answered " + res.status));
}

async function api(method, path, body) {
  const res = await request(method, "/api/v1" + path, body, "application/json");
  return res.status === 204 ? null : res.json().catch(() => ({}));
}

// A page action answering with a fragment rendered (and escaped) by the server.
async function render(path, body, target) {
  const res = await request("POST", path, body, "text/html");
  const el = document.getElementById(target);
  el.innerHTML = await res.text();
  return el;
}

function showError(id, err) {
  const el = document.getElementById(id);
  if (el) el.textContent = err ? String(err.message || err) : "";
}

// --- The session: idle countdown and unlock -------------------------------------------------

function openUnlock() {
  const d = document.getElementById("unlock");
  // What the desk showed is hidden until the session is unlocked.
  document.body.classList.add("locked");
  if (d && !d.open) {
    d.showModal();
    document.getElementById("unlock-password").focus();
  }
}

function idleTick() {
  const el = document.getElementById("idle-left");
  if (!el || !idleLimit) return;
  const left = idleLimit - (Date.now() - lastActivity);
  if (left <= 0) {
    el.textContent = " · locked";
    openUnlock();
  } else if (left < 5 * 60 * 1000) {
    el.textContent = " · locks in " + clock(left) + " without activity";
  } else {
    el.textContent = "";
  }
}

function clock(ms) {
  const s = Math.max(0, Math.floor(ms / 1000));
  const two = (n) => String(n).padStart(2, "0");
  return s >= 3600
    ? Math.floor(s / 3600) + ":" + two(Math.floor(s / 60) % 60) + ":" + two(s % 60)
    : Math.floor(s / 60) + ":" + two(s % 60);
}

// Timers rendered by the server tick here between refreshes.
function timersTick() {
  const now = serverNow();
  for (const el of document.querySelectorAll("[data-elapsed-from]")) {
    el.textContent = clock(now - Number(el.dataset.elapsedFrom));
  }
  for (const el of document.querySelectorAll("[data-remaining-to]")) {
    const left = Number(el.dataset.remainingTo) - now;
    el.textContent = left > 0 ? clock(left) : "due now";
    el.classList.toggle("overdue", left <= 0);
  }
}

// --- The desk's inquiry ------------------------------------------------------------------------

function value(id) {
  const el = document.getElementById(id);
  return el ? el.value.trim() : "";
}

function checked(id) {
  const el = document.getElementById(id);
  return !!(el && el.checked);
}

function subject() {
  const s = {
    family_names: value("s-family").split(",").map((x) => x.trim()).filter(Boolean),
    given_names: value("s-given").split(/\s+/).filter(Boolean),
  };
  const opt = { date_of_birth: "s-dob", sex: "s-sex", place_of_birth: "s-pob", a_number: "s-anumber",
    fbi_number: "s-fbi", state_id: "s-sid", offense_code: "s-offense" };
  for (const [k, id] of Object.entries(opt)) {
    if (value(id)) s[k] = value(id);
  }
  if (checked("s-custody")) s.in_custody = true;
  return s;
}

function purpose() {
  const p = { code: value("p-code"), reason: value("p-reason") };
  if (value("p-case")) p.case_number = value("p-case");
  return p;
}

// "Not this person" marks, from the candidates and from the file the rules last judged (a
// candidate past the list shown can still be in the file); one per record.
// A mark stays after the verdict that excluded its record is drawn again (its input is gone
// then); a new search or inquiry clears them.
const keptMarks = new Map();

function notThisPerson() {
  for (const m of document.querySelectorAll('#candidates input[name="not-this-person"], #verdict input[name="not-this-person"]')) {
    if (m.value.trim()) keptMarks.set(m.dataset.record, m.value.trim());
    else keptMarks.delete(m.dataset.record);
  }
  return [...keptMarks].map(([record, reason]) => ({ record, reason }));
}

function inquiry() {
  const call = value("inquiry-call");
  if (!call) throw new Error("answer a call first: the rules judge an inquiry made on a call");
  return {
    call,
    purpose: purpose(),
    subject: subject(),
    chosen: [...document.querySelectorAll('#candidates input[name="chosen"]:checked')].map((c) => c.value),
    not_this_person: notThisPerson(),
    claims: { us_citizen: checked("c-citizen"), us_citizen_parent: checked("c-parent"),
      minor: checked("c-minor"), uac: checked("c-uac") },
    location: value("c-location"),
    partner_reference: value("inquiry-reference") || undefined,
  };
}

// "Use this subject": the inquiry the officer sent ahead fills the form.
function fillFrom(b) {
  const fields = JSON.parse(b.dataset.fill);
  for (const [id, v] of Object.entries(fields)) {
    const el = document.getElementById(id);
    if (!el) continue;
    if (el.type === "checkbox") el.checked = v === true;
    else el.value = v;
  }
  document.getElementById("inquiry-reference").value = b.dataset.reference;
  document.getElementById("s-family").focus();
}

// The inquiry is made on the call the desk has connected; it stays after the call ends (the
// disposition is often recorded in after-call work). An inquiry under way never moves to the
// next call by itself: the call-taker records it, or starts a new one.
let inquiryBusy = false;

function syncCall() {
  const offer = document.querySelector('[data-testid="offer"][data-record]');
  const input = document.getElementById("inquiry-call");
  if (!offer || !input || offer.dataset.connected !== "true") return;
  if (input.value === offer.dataset.record) return;
  if (input.value && inquiryBusy) {
    showError("inquiry-error", "Another call is connected: this inquiry is still on the earlier call. Record its disposition, or start a new inquiry for the new call.");
    return;
  }
  input.value = offer.dataset.record;
  document.getElementById("inquiry-call-label").textContent =
    "Inquiry on the call from " + offer.dataset.number + ".";
}

async function search() {
  showError("inquiry-error", null);
  const body = { subject: subject(), purpose: purpose(), limit: 10 };
  if (value("inquiry-call")) body.call = value("inquiry-call");
  keptMarks.clear();
  // The last search's candidates go at once: nothing is chosen from a stale list.
  const list = document.getElementById("candidates");
  list.textContent = "Searching…";
  try {
    await render("/desk/lookup", body, "candidates");
  } catch (e) {
    list.textContent = "No search result: see the message above.";
    throw e;
  }
  inquiryBusy = true;
  document.getElementById("verdict").textContent = "";
}

async function checkRules() {
  showError("inquiry-error", null);
  const el = await render("/desk/evaluate", inquiry(), "verdict");
  const first = el.querySelector('input[name="kind"]');
  if (first) first.focus();
}

async function recordDisposition() {
  showError("inquiry-error", null);
  const kind = document.querySelector('#verdict input[name="kind"]:checked');
  if (!kind) throw new Error("choose a disposition");
  await render("/desk/disposition",
    { inquiry: inquiry(), kind: kind.value, for_override: kind.dataset.override === "true" },
    "recorded");
  document.getElementById("record-disposition").disabled = true;
  inquiryBusy = false;
  // The inquiry sent ahead is answered by this disposition (once it is final): a further
  // inquiry on the call is the call-taker's own.
  document.getElementById("inquiry-reference").value = "";
}

function newInquiry() {
  inquiryBusy = false;
  keptMarks.clear();
  showError("inquiry-error", null);
  document.getElementById("inquiry").reset();
  const call = document.getElementById("inquiry-call");
  call.value = "";
  document.getElementById("inquiry-reference").value = "";
  document.getElementById("inquiry-call-label").textContent =
    "No call yet: the inquiry is made on the call you answer.";
  document.getElementById("candidates").textContent = "";
  document.getElementById("verdict").textContent = "";
  syncCall();
  document.getElementById("s-family").focus();
}

// --- Wiring ------------------------------------------------------------------------------------

async function guarded(errorId, f) {
  showError(errorId, null);
  try {
    await f();
  } catch (e) {
    showError(errorId, e);
  }
}

function reviewReason(id) {
  const el = document.getElementById("reason-" + id);
  return el ? el.value.trim() : "";
}

// Buttons are re-rendered by the streams: listen on the page, not on them.
async function onClick(b) {
  const d = b.dataset;
  // Actions that cannot be undone, or that end someone's call, ask first.
  if (d.confirm && !window.confirm(d.confirm)) return;
  if (d.state) {
    const body = { state: d.state };
    if (d.state === "break") {
      const r = document.getElementById(d.reasonFrom || "break-reason");
      body.reason = r ? r.value : "rest";
    }
    if (d.forced === "true") body.forced = true;
    await api("POST", "/acd/agents/" + d.agent + "/state", body);
  } else if (d.answer) {
    await api("POST", "/acd/agents/" + d.answer + "/answer", { call: Number(d.call) });
  } else if (d.reject) {
    await api("POST", "/acd/agents/" + d.reject + "/reject", { call: Number(d.call) });
  } else if (d.end) {
    await api("POST", "/acd/calls/" + d.end + "/end");
  } else if (d.approve) {
    const reason = reviewReason(d.approve);
    await api("POST", "/dispositions/" + d.approve + "/approve", reason ? { reason } : {});
  } else if (d.refuse) {
    await api("POST", "/dispositions/" + d.refuse + "/refuse", { reason: reviewReason(d.refuse) });
  } else if (d.determine) {
    const id = d.determine;
    await api("POST", "/determinations", {
      disposition: id,
      matter: JSON.parse(d.matter),
      finding: JSON.parse(value(d.findingFrom)),
      reason: value("det-reason-" + id),
      basis: value("det-basis-" + id),
    });
  } else if (d.detApprove) {
    await api("POST", "/determinations/" + d.detApprove + "/approve", {});
  } else if (d.detRefuse) {
    await api("POST", "/determinations/" + d.detRefuse + "/refuse", { reason: value("det-refuse-" + d.detRefuse) });
  } else if (d.override) {
    await api("POST", "/dispositions/" + d.override + "/override",
      { rule: d.rule, reason: reviewReason(d.override) });
  } else if (d.caseField) {
    const body = { version: Number(d.version) };
    body[d.caseField] = d.caseValue === "true" ? true : d.caseValue;
    await api("PATCH", "/liaison-cases/" + d.case, body);
  } else if (d.fill) {
    fillFrom(b);
    await search();
  } else if (d.user) {
    await api("PATCH", "/users/" + d.user, { version: Number(d.version), active: d.active === "true" });
    window.location.reload();
  } else if (d.unlockOpen) {
    openUnlock();
  } else if (b.id === "load-ahead") {
    await render("/desk/ahead", { reference: value("ahead-ref") }, "ahead-by-ref");
  } else if (b.id === "check-rules") {
    await checkRules();
  } else if (b.id === "record-disposition") {
    await recordDisposition();
  } else if (b.id === "new-inquiry") {
    newInquiry();
  } else if (b.id === "verify-log") {
    await render("/auditor/verify", {}, "verify-result");
  }
}

// The desk's keys, by physical key (Alt+letter gives other characters on some layouts).
function onKey(ev) {
  if (!ev.altKey || ev.ctrlKey || ev.metaKey || ev.defaultPrevented) return;
  const k = ev.code.replace(/^Key|^Digit/, "").toLowerCase();
  const click = (sel) => { const el = document.querySelector(sel); if (el) el.click(); };
  if (k === "n") { const el = document.getElementById("s-family"); if (el) el.focus(); }
  else if (k === "s") click("#search");
  else if (k === "k") click("#check-rules");
  else if (k === "d") { const el = document.querySelector('#verdict input[name="kind"]'); if (el) el.focus(); }
  // Only the desk's own state button: never a supervisor's forced change on the wallboard.
  else if (k === "a") click('#agent button[data-state="available"]');
  else if (k === "y") click("#offer button[data-answer]");
  else if (k === "e") click("#offer button[data-end]");
  else if (/^[1-9]$/.test(k)) {
    const box = document.querySelector('#candidates input[data-rank="' + k + '"]');
    if (box) { box.checked = !box.checked; box.focus(); }
  } else return;
  ev.preventDefault();
}

document.addEventListener("DOMContentLoaded", () => {
  const logon = document.getElementById("logon");
  if (logon) {
    logon.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      showError("logon-error", null);
      const f = new FormData(logon);
      try {
        const res = await fetch("/api/v1/session", {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ username: f.get("username"), password: f.get("password"), totp: f.get("totp") }),
        });
        const data = await res.json().catch(() => ({}));
        if (res.status !== 201) throw new Error(data.message || "logon failed");
        window.location.assign("/");
      } catch (e) {
        showError("logon-error", e);
      }
    });
  }

  const logoff = document.getElementById("logoff");
  if (logoff) {
    logoff.addEventListener("click", async () => {
      try { await api("DELETE", "/session"); } catch (_) { /* gone already */ }
      window.location.assign("/login");
    });
  }

  const unlock = document.getElementById("unlock-form");
  if (unlock) {
    unlock.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      await guarded("unlock-error", async () => {
        await api("POST", "/session/unlock",
          { password: value("unlock-password"), totp: value("unlock-totp") });
        window.location.reload();
      });
    });
  }
  if (meta("session-locked")) openUnlock();
  // The unlock cannot be dismissed: the page stays hidden until it is unlocked.
  const dialog = document.getElementById("unlock");
  if (dialog) dialog.addEventListener("cancel", (ev) => ev.preventDefault());
  // The stream says when the session locked (unlock here) or ended (log on again).
  const state = document.getElementById("session-state");
  if (state) {
    new MutationObserver(() => {
      if (state.querySelector("[data-locked]")) openUnlock();
      if (state.querySelector("[data-ended]")) {
        document.body.classList.add("locked");
        window.location.assign("/login");
      }
    }).observe(state, { childList: true, subtree: true });
  }
  // What is typed into a fragment the stream redraws (a review's reason) survives the redraw.
  const kept = new Map();
  document.addEventListener("input", (ev) => {
    if (ev.target.dataset && ev.target.dataset.keep !== undefined) kept.set(ev.target.id, ev.target.value);
  });
  document.body.addEventListener("htmx:sseMessage", () => {
    for (const [id, v] of kept) {
      const el = document.getElementById(id);
      if (el && el.value === "") el.value = v;
    }
  });

  const form = document.getElementById("inquiry");
  if (form) {
    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      guarded("inquiry-error", search);
    });
  }

  document.addEventListener("click", (ev) => {
    const b = ev.target.closest("button");
    if (!b || b.type === "submit") return;
    const errorId = b.closest("#inquiry, #verdict, #ahead-by-ref") ? "inquiry-error" : "action-error";
    guarded(errorId, () => onClick(b));
  });
  document.addEventListener("keydown", onKey);
  document.body.addEventListener("htmx:sseMessage", () => { syncCall(); timersTick(); });
  syncCall();
  timersTick();
  setInterval(() => { timersTick(); idleTick(); }, 1000);
});
