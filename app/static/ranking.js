// Ranking tasks on the labelling page: order K responses by dragging or by keyboard, with ties.
// The order is written to the form's `ranking` field as completion ids best first, `,` between
// places and `=` between tied ones; labeling.js still submits, times and heartbeats the form.
(() => {
  "use strict";
  let selected = null;
  let dragged = null;

  const list = () => document.getElementById("ranking-list");
  const items = () => Array.from(list().querySelectorAll(".rank-item"));

  function serialise() {
    const field = document.getElementById("ranking-value");
    let out = "";
    let place = 0;
    items().forEach((item, index) => {
      const tied = index > 0 && item.dataset.tied === "true";
      if (!tied) place = index + 1;
      out += (index === 0 ? "" : tied ? "=" : ",") + item.dataset.completion;
      item.querySelector(".rank-place").textContent = `#${place}`;
      const button = item.querySelector(".rank-tie");
      button.hidden = index === 0;
      button.setAttribute("aria-pressed", String(tied));
      item.classList.toggle("tied", tied);
    });
    if (field) field.value = out;
  }

  // A re-shown form (after an error) comes back with the order the evaluator had.
  function restore(value) {
    if (!value) return;
    const byId = new Map(items().map((item) => [item.dataset.completion, item]));
    value.split(",").forEach((tier) => {
      tier.split("=").forEach((id, i) => {
        const item = byId.get(id);
        if (!item) return;
        item.dataset.tied = String(i > 0);
        list().appendChild(item);
      });
    });
  }

  function select(item) {
    items().forEach((other) => other.classList.toggle("selected", other === item));
    selected = item;
    if (item) item.focus();
  }

  function move(item, step) {
    const all = items();
    const index = all.indexOf(item);
    const target = all[index + step];
    if (!target) return;
    if (step < 0) list().insertBefore(item, target);
    else list().insertBefore(item, target.nextSibling);
    serialise();
    item.focus();
  }

  function toggleTie(item) {
    if (items().indexOf(item) <= 0) return;
    item.dataset.tied = item.dataset.tied === "true" ? "false" : "true";
    serialise();
  }

  function onContent() {
    if (!list()) { selected = null; return; }
    restore(document.getElementById("ranking-value").value);
    selected = null;
    serialise();
  }

  document.addEventListener("DOMContentLoaded", onContent);
  document.addEventListener("htmx:load", onContent);

  document.addEventListener("click", (event) => {
    if (!list()) return;
    const tie = event.target.closest(".rank-tie");
    const item = event.target.closest(".rank-item");
    if (tie && item) toggleTie(item);
    else if (item) select(item);
  });

  document.addEventListener("dragstart", (event) => {
    const item = event.target.closest && event.target.closest(".rank-item");
    if (!item) return;
    dragged = item;
    item.classList.add("dragging");
    event.dataTransfer.effectAllowed = "move";
    event.dataTransfer.setData("text/plain", item.dataset.completion);
  });
  document.addEventListener("dragover", (event) => {
    const target = event.target.closest && event.target.closest(".rank-item");
    if (!dragged || !target) return;
    event.preventDefault();
    if (target === dragged) return;
    // Moving down lands after the response under the pointer, moving up before it.
    const all = items();
    const down = all.indexOf(dragged) < all.indexOf(target);
    list().insertBefore(dragged, down ? target.nextSibling : target);
  });
  document.addEventListener("drop", (event) => {
    if (dragged) event.preventDefault();
  });
  document.addEventListener("dragend", () => {
    if (!dragged) return;
    dragged.classList.remove("dragging");
    dragged = null;
    serialise();
  });

  document.addEventListener("keydown", (event) => {
    if (!list() || event.altKey || event.metaKey || event.ctrlKey) return;
    if (event.target.matches("textarea, select, input[type=text]")) return;
    const all = items();
    if (!event.shiftKey && /^[1-6]$/.test(event.key)) {
      const letter = "ABCDEF"[Number(event.key) - 1];
      const item = all.find((i) => i.dataset.letter === letter);
      if (item) { event.preventDefault(); select(item); }
      return;
    }
    const current = selected || (event.target.closest && event.target.closest(".rank-item"));
    if (!current) return;
    if (event.key === "ArrowUp" || event.key === "k") { event.preventDefault(); move(current, -1); }
    else if (event.key === "ArrowDown" || event.key === "j") { event.preventDefault(); move(current, 1); }
    else if (event.key === "=") { event.preventDefault(); toggleTie(current); }
  });

  // Capture phase, before htmx serialises the form: the field holds the order on screen.
  document.addEventListener("submit", (event) => {
    if (event.target.id === "label-form" && list()) serialise();
  }, true);
})();
