// The agent desktop: the screen pop and presence arrive over server-sent events (/desktop/events) and are
// written into the page with textContent only (never as HTML). Action forms are sent without leaving the page.
"use strict";

(function () {
  const pop = document.getElementById("pop");
  if (!pop) return;

  function text(parent, tag, value, className) {
    const node = document.createElement(tag);
    node.textContent = value;
    if (className) node.className = className;
    parent.appendChild(node);
    return node;
  }

  function showProfile(customer, pending) {
    const profile = document.getElementById("pop-profile");
    profile.replaceChildren();
    if (!customer) {
      text(profile, "dd", pending ? "Looking the caller up…" : "Not found in the back office.", "muted");
      return;
    }
    const facts = [["Name", customer.name], ["Tier", customer.tier ? customer.tier + (customer.vip ? " (VIP)" : "") : ""],
      ["Accounts", (customer.accounts || []).map((a) => `${a.kind} …${a.last4}`).join(", ")],
      ["Cards", (customer.cards || []).map((c) => `${c.kind} …${c.last4} ${c.status}`).join(", ")],
      ["Orders", (customer.orders || []).map((o) => `${o.number} ${String(o.status).replace(/_/g, " ")}`).join(", ")],
      ["Complaints", (customer.complaints || []).map((c) => `${c.ticket} ${c.category} ${c.status}`).join(", ")]];
    for (const [label, value] of facts) {
      if (!value) continue;
      text(profile, "dt", label);
      text(profile, "dd", String(value));
    }
  }

  function show(data) {
    for (const node of pop.querySelectorAll("[data-field]")) {
      const value = data[node.dataset.field];
      node.textContent = node.dataset.field === "verified" ? (value ? "Yes" : "No (not verified by the bot)")
        : (value === undefined || value === null || value === "" ? "—" : String(value));
    }
    const slots = document.getElementById("pop-slots");
    slots.replaceChildren();
    const names = Object.keys(data.slots || {});
    if (!names.length) text(slots, "dd", "Nothing.", "muted");
    for (const name of names) {
      text(slots, "dt", name.replace(/_/g, " "));
      text(slots, "dd", String(data.slots[name]));
    }
    const emotions = (data.emotion_trail || []).map(([label, score]) => `${label} ${Number(score).toFixed(2)}`);
    document.getElementById("pop-emotions").textContent = emotions.length ? emotions.join(" → ") : "—";
    const transcript = document.getElementById("pop-transcript");
    transcript.replaceChildren();
    for (const [speaker, words] of data.transcript || []) {
      const line = text(transcript, "li", "");
      text(line, "span", speaker, "speaker");
      line.append(" " + words);
    }
    showProfile(data.profile, data.profile_pending);
    const previous = document.getElementById("pop-previous");
    previous.replaceChildren();
    if (!(data.previous_calls || []).length) text(previous, "li", "None.", "muted");
    for (const call of data.previous_calls || []) {
      text(previous, "li", `${call.started_at} · ${call.flow} · ${call.outcome}${call.intent ? " · " + call.intent : ""}` +
        `${call.reason ? " · " + call.reason : ""}`);
    }
    for (const input of pop.querySelectorAll("input[name=call_id]")) input.value = data.call_id;
    for (const input of pop.querySelectorAll("input[data-caller-id]")) {  // the caller's number, editable; kept by reset
      input.defaultValue = data.caller_id || "";
      input.value = input.defaultValue;
    }
    document.getElementById("pop-saved").textContent = "";
    document.getElementById("waiting").hidden = true;
    pop.hidden = false;
    pop.dataset.callId = data.call_id;
    window.voicebotPoppedAt = performance.timeOrigin + performance.now();  // read by `voicebot bench desktop`
  }

  function refusal(html) {  // why a form was refused, from the refused page (read as text, never shown as HTML)
    const reason = new DOMParser().parseFromString(html, "text/html").querySelector("[role=alert]");
    return reason ? reason.textContent : "check the form and try again.";
  }

  function presence(change) {
    const state = document.getElementById("presence-state");
    if (!state) return;  // this page's stream carries only this agent's own changes
    state.textContent = change.state.replace(/_/g, " ");
    state.dataset.state = change.state;
    document.getElementById("presence-reason").textContent = change.reason ? ` (${change.reason})` : "";
  }

  const initial = JSON.parse(document.getElementById("pop-data").textContent);
  if (initial) show(initial);

  const events = new EventSource("/desktop/events");
  events.addEventListener("pop", (message) => show(JSON.parse(message.data)));
  events.addEventListener("profile", (message) => {  // the back office's answer, after the pop
    const data = JSON.parse(message.data);
    if (pop.dataset.callId === data.call_id) showProfile(data.profile, false);
  });
  events.addEventListener("presence_changed", (message) => presence(JSON.parse(message.data)));
  events.addEventListener("open", () => { document.body.dataset.live = "yes"; });

  for (const form of document.querySelectorAll("form.desk-action")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const saved = document.getElementById("pop-saved");
      saved.textContent = "";  // what the last form got is not this one's answer
      const response = await fetch(form.action, {method: "POST", body: new URLSearchParams(new FormData(form)),
                                                  credentials: "same-origin"});
      saved.className = response.ok ? "ok" : "error";
      saved.textContent = response.ok ? "Saved." : response.status === 422 ? `Not saved: ${refusal(await response.text())}`
        : "Not saved: reload the page and try again.";
      if (response.ok) form.reset();
    });
  }
})();
