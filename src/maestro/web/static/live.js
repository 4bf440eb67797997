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
  // Shown while there is a value (the sign-in code, the account), or while there is none.
  for (const element of document.querySelectorAll("[data-live-shown]")) {
    element.hidden = valueAt(state, element.dataset.liveShown) == null;
  }
  for (const element of document.querySelectorAll("[data-live-hidden]")) {
    element.hidden = valueAt(state, element.dataset.liveHidden) != null;
  }
  for (const element of document.querySelectorAll("[data-live-href]")) {
    element.href = valueAt(state, element.dataset.liveHref) || "#";
  }
  // What is wrong now, as the box said it (Spotify unreachable, no microphone...).
  for (const list of document.querySelectorAll("[data-live-troubles]")) {
    const troubles = state.troubles || [];
    list.replaceChildren(...troubles.map((message) => Object.assign(document.createElement("li"), { textContent: message })));
    list.hidden = troubles.length === 0;
  }
  // The QR code of the sign-in link, drawn by the box for the code now up.
  for (const element of document.querySelectorAll("[data-live-qr]")) {
    const code = valueAt(state, element.dataset.liveQr);
    const source = code == null ? "data:," : "/spotify/pairing.svg?code=" + encodeURIComponent(code);
    if (element.getAttribute("src") !== source) element.src = source;
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
  if (["voice", "web", "mqtt"].includes(entry.source)) item.append(correction(entry));
  list.prepend(item);
}

// "I meant…" under a command, as the page draws it for the ones it had when it loaded.
function correction(entry) {
  const field = (name, value) => {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    return input;
  };
  const token = document.querySelector("input[name=csrf]");
  const details = document.createElement("details");
  const summary = document.createElement("summary");
  summary.textContent = "I meant…";
  const form = document.createElement("form");
  form.method = "post";
  form.action = "/correct";
  form.className = "correct";
  const label = document.createElement("label");
  label.htmlFor = "meant-" + entry.id;
  label.textContent = "What should “" + entry.heard + "” have done? Say it the way Maestro knows";
  const meant = document.createElement("input");
  meant.id = "meant-" + entry.id;
  meant.name = "meant";
  meant.type = "text";
  meant.maxLength = 255;
  meant.placeholder = "play abbey road";
  meant.required = true;
  const button = document.createElement("button");
  button.className = "primary";
  button.textContent = "Learn it";
  const choose = document.createElement("a");
  choose.href = "/correct/" + entry.id;
  choose.className = "choose";
  choose.textContent = "or choose what it should have done";
  form.append(field("csrf", token ? token.value : ""), field("heard", entry.heard), label, meant, button, choose);
  details.append(summary, form);
  return details;
}

// "I meant…" by choosing: the intent list takes you to its slots at once; a name field offers the
// library's names most like what is typed so far.
for (const select of document.querySelectorAll("select[data-submit-on-change]")) {
  select.addEventListener("change", () => select.form.submit());
}
for (const input of document.querySelectorAll("input[data-names]")) {
  let timer = null;
  input.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      const kind = input.dataset.names;
      const answer = await fetch("/api/names/" + kind + "?q=" + encodeURIComponent(input.value));
      if (!answer.ok) return;
      const list = document.getElementById("names-" + kind);
      list.replaceChildren(...(await answer.json()).names.map((name) => new Option(name, name)));
    }, 150);
  });
}

const events = new EventSource("/api/events");
events.addEventListener("state", (event) => showState(JSON.parse(event.data)));
events.addEventListener("heard", (event) => showHeard(JSON.parse(event.data)));
