// Authorizer Lab: a little vanilla JS. Every page works without it; with it, calls render in
// place, times show in local time, and tokens can be copied once the person asks.
"use strict";

// Copy buttons need this script: the class shows them (static/app.css); without it they stay
// hidden and the text to copy is shown, selectable, with a line saying so.
document.documentElement.classList.add("js");

function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function localTimes(root) {
  for (const element of root.querySelectorAll("time[data-local]")) {
    const when = new Date(element.dateTime);
    if (!Number.isNaN(when.getTime())) element.textContent = when.toLocaleString();
  }
}

async function revealToken(which) {
  const body = new FormData();
  body.set("which", which);
  const response = await fetch("/tokens/reveal", {
    method: "POST", body, credentials: "same-origin",
    headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
  });
  if (!response.ok) throw new Error(`reveal answered ${response.status}`);
  return (await response.json()).token;
}

async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    return false; // no clipboard permission: the text stays selectable on the page
  }
}

async function onCopyCurl(button) {
  const curl = document.getElementById("curl");
  const status = button.parentElement.querySelector(".copy-status");
  let text = curl.textContent;
  if (button.dataset.withToken) {
    const token = await revealToken(button.dataset.withToken);
    // The command names the token it needs ($ACCESS_TOKEN, $ID_TOKEN, ...): fill in that one.
    text = text.split(curl.dataset.placeholder || "$ACCESS_TOKEN").join(token);
  }
  const copied = await copyText(text);
  if (status) {
    status.textContent = copied ? "Copied." : "Copy blocked by the browser: select the command above.";
  }
}

async function onCopyText(button) {
  // Copy a snippet shown on the page (it holds variables, never a key).
  const source = document.getElementById(button.dataset.copyText);
  const status = button.parentElement.querySelector(".copy-status");
  const copied = source ? await copyText(source.textContent) : false;
  if (status) {
    status.textContent = copied ? "Copied." : "Copy blocked by the browser: select the text above.";
  }
}

async function onRevealSubmit(form, event) {
  event.preventDefault();
  const which = form.querySelector('input[name="which"]').value;
  const area = form.parentElement.querySelector(".raw-token");
  area.value = await revealToken(which);
  area.hidden = false;
  area.focus();
  area.select();
}

function markPressed(form, button) {
  // The button just pressed is the one highlighted, as in the page the server renders.
  for (const other of form.querySelectorAll('button[name="action"]')) {
    other.classList.toggle("primary", other === button);
    if (other === button) other.dataset.pressed = "true";
    else delete other.dataset.pressed;
  }
}

function onNoteKeydown(form, input, event) {
  // Enter in the note field adds the note; the browser's default would press the form's
  // first button ("Call Public").
  if (event.key !== "Enter" || event.isComposing) return;
  const button = form.querySelector(`button[name="action"][value="${CSS.escape(input.dataset.enterPresses)}"]`);
  if (!button) return;
  event.preventDefault();
  form.requestSubmit(button);
}

async function onPingSubmit(form, event) {
  event.preventDefault();
  const data = new FormData(form);
  if (event.submitter && event.submitter.name) data.set(event.submitter.name, event.submitter.value);
  if (event.submitter) markPressed(form, event.submitter);
  const result = document.getElementById("result");
  result.setAttribute("aria-busy", "true");
  try {
    // getAttribute: `form.action` is shadowed by the buttons named "action".
    const response = await fetch(form.getAttribute("action"), {
      method: "POST", body: data, credentials: "same-origin",
      headers: { "X-CSRFToken": csrfToken(), "X-Requested-With": "fetch" },
    });
    result.innerHTML = await response.text();
    localTimes(result);
  } catch (error) {
    result.textContent = `The web app did not answer: ${error.message}`;
  } finally {
    result.removeAttribute("aria-busy");
  }
}

document.addEventListener("DOMContentLoaded", () => {
  localTimes(document);
  const ping = document.getElementById("ping-form");
  if (ping) ping.addEventListener("submit", (event) => onPingSubmit(ping, event));
  const note = document.querySelector("#ping-form [data-enter-presses]");
  if (note) note.addEventListener("keydown", (event) => onNoteKeydown(ping, note, event));
  for (const form of document.querySelectorAll(".reveal-form")) {
    form.addEventListener("submit", (event) => onRevealSubmit(form, event));
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy-curl]");
    if (button) onCopyCurl(button);
    const snippet = event.target.closest("[data-copy-text]");
    if (snippet) onCopyText(snippet);
  });
});
