// Switchboard's pages: logon, and the desk's actions, each a call to the JSON API with the
// session's CSRF token. What changes comes back over the page's event stream (htmx SSE).
"use strict";

function csrf() {
  const m = document.querySelector('meta[name="csrf-token"]');
  return m ? m.content : "";
}

async function api(method, path, body) {
  const res = await fetch("/api/v1" + path, {
    method,
    headers: { "content-type": "application/json", "x-csrf-token": csrf() },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  if (res.status === 401) {
    window.location.assign("/login");
    return null;
  }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) {
    throw new Error(data.message || ("the server answered " + res.status));
  }
  return data;
}

function showError(id, err) {
  const el = document.getElementById(id);
  if (el) el.textContent = err ? String(err.message || err) : "";
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
          body: JSON.stringify({
            username: f.get("username"),
            password: f.get("password"),
            totp: f.get("totp"),
          }),
        });
        const data = await res.json().catch(() => ({}));
        if (res.status !== 201) throw new Error(data.message || "logon failed");
        window.location.assign("/desk");
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

  // The desk's buttons are re-rendered by the stream: listen on the page, not on them.
  document.addEventListener("click", async (ev) => {
    const b = ev.target.closest("button");
    if (!b) return;
    showError("action-error", null);
    try {
      if (b.dataset.state) {
        const body = { state: b.dataset.state };
        if (b.dataset.state === "break") {
          body.reason = document.getElementById("break-reason").value;
        }
        await api("POST", "/acd/agents/" + b.dataset.agent + "/state", body);
      } else if (b.dataset.answer) {
        await api("POST", "/acd/agents/" + b.dataset.answer + "/answer", { call: Number(b.dataset.call) });
      } else if (b.dataset.reject) {
        await api("POST", "/acd/agents/" + b.dataset.reject + "/reject", { call: Number(b.dataset.call) });
      } else if (b.dataset.end) {
        await api("POST", "/acd/calls/" + b.dataset.end + "/end");
      }
    } catch (e) {
      showError("action-error", e);
    }
  });
});
