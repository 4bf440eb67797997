// Keeps a page up to date from the box's server-sent events (/api/events): no polling.
// Text only (textContent), never HTML: what was heard is the speaker's, not the page's.
"use strict";

function valueAt(data, path) {
  return path.split(".").reduce((value, key) => (value == null ? null : value[key]), data);
}

function showState(state) {
  for (const element of document.querySelectorAll("[data-live]")) {
    const value = valueAt(state, element.dataset.live);
    if (element.dataset.live === "playing.title" && value == null) {
      element.textContent = "Nothing playing";
    } else {
      element.textContent = value == null ? "" : String(value) + (element.dataset.suffix || "");
    }
  }
}

function showHeard(entry) {
  const list = document.querySelector("[data-live-list=heard]");
  if (!list) return;
  const empty = list.querySelector(".empty");
  if (empty) empty.remove();
  const item = document.createElement("li");
  item.className = entry.ok ? "ok" : "failed";
  const heard = document.createElement("q");
  heard.textContent = entry.heard;
  const meta = document.createElement("span");
  meta.className = "meta";
  const parts = [entry.source];
  if (entry.intent) parts.push(entry.intent);
  for (const [name, value] of Object.entries(entry.slots || {})) {
    parts.push(name + ": " + (value && typeof value === "object" ? value.name : value));
  }
  if (entry.recogniser) parts.push(entry.recogniser);
  if (entry.took_ms != null) parts.push(Math.round(entry.took_ms) + " ms");
  meta.textContent = parts.join(" · ");
  const reply = document.createElement("span");
  reply.className = "reply";
  reply.textContent = entry.reply;
  item.append(heard, meta, reply);
  list.prepend(item);
}

const events = new EventSource("/api/events");
events.addEventListener("state", (event) => showState(JSON.parse(event.data)));
events.addEventListener("heard", (event) => showHeard(JSON.parse(event.data)));
