// The Compare page: start a run, poll its progress and redraw the grid as cells finish, and
// open a cell's explanation in place. Without this script the form waits for the whole grid
// and the cells are links to their own page.
"use strict";

function compareCsrf() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.content : "";
}

function showProgress(done, total, text) {
  const box = document.getElementById("compare-progress");
  const bar = box.querySelector("progress");
  box.hidden = false;
  bar.max = Math.max(total, 1);
  bar.value = done;
  document.getElementById("compare-progress-text").textContent = text || `${done} of ${total} calls`;
}

async function pollRun(pollUrl, interval) {
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, interval));
    const response = await fetch(pollUrl, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    const state = await response.json();
    if (!response.ok) throw new Error(state.error || `the progress answered ${response.status}`);
    document.getElementById("grid").innerHTML = state.grid;
    showProgress(state.done, state.total, state.total ? "" : "Preparing the token variants…");
    if (state.error) throw new Error(state.error);
    if (state.finished && state.page) {
      showProgress(state.done, state.total, `All ${state.total} calls done; saved as run ${state.run}.`);
      window.location.assign(state.page);
      return;
    }
  }
}

async function onCompareSubmit(form, event) {
  event.preventDefault();
  const button = form.querySelector('button[type="submit"]');
  button.disabled = true;
  showProgress(0, 1, "Gathering the tokens…");
  try {
    const response = await fetch(form.getAttribute("action"), {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "X-CSRFToken": compareCsrf(), "X-Requested-With": "fetch" },
    });
    const started = await response.json();
    if (!response.ok) throw new Error(started.error || `the web app answered ${response.status}`);
    document.getElementById("grid").innerHTML = started.grid;
    document.getElementById("cell-detail").hidden = true;
    showProgress(0, started.total, "Preparing the token variants…");
    await pollRun(started.poll, Number(form.dataset.pollMs) || 250);
  } catch (error) {
    showProgress(0, 1, `The run did not complete: ${error.message}`);
    button.disabled = false;
  }
}

async function openCell(link) {
  const panel = document.getElementById("cell-detail");
  panel.hidden = false;
  panel.setAttribute("aria-busy", "true");
  for (const cell of document.querySelectorAll("td.cell.open")) cell.classList.remove("open");
  link.closest("td").classList.add("open");
  try {
    const response = await fetch(link.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } });
    panel.innerHTML = response.ok ? await response.text() : `<p class="alert">This cell could not be opened (${response.status}).</p>`;
  } catch (error) {
    panel.textContent = `The web app did not answer: ${error.message}`;
  } finally {
    panel.removeAttribute("aria-busy");
    panel.scrollIntoView({ block: "nearest" });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("compare-form");
  if (form) form.addEventListener("submit", (event) => onCompareSubmit(form, event));
  const grid = document.getElementById("grid");
  if (grid) {
    grid.addEventListener("click", (event) => {
      const link = event.target.closest("a[data-cell]");
      if (!link || event.ctrlKey || event.metaKey || event.shiftKey) return;
      event.preventDefault();
      openCell(link);
    });
  }
});

// The workshop: "copy as curl" with the edited token, fetched from the server only on request.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy-workshop]");
  if (!button) return;
  const status = button.parentElement.querySelector(".copy-status");
  const response = await fetch("/workshop/reveal", {
    method: "POST", credentials: "same-origin",
    headers: { "X-CSRFToken": compareCsrf(), "X-Requested-With": "fetch" },
  });
  if (!response.ok) {
    status.textContent = "No edited token to copy.";
    return;
  }
  const token = (await response.json()).token;
  const text = document.getElementById("curl").textContent.replace("$ACCESS_TOKEN", token);
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = "Copied.";
  } catch {
    status.textContent = "Copy blocked by the browser: select the command above.";
  }
});
