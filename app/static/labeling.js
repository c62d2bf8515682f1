// The labelling page: keyboard shortcuts, decision timing and the lease heartbeat.
(() => {
  "use strict";
  const KEYS = {
    "1": ["choice", "left"], ArrowLeft: ["choice", "left"],
    "2": ["choice", "right"], ArrowRight: ["choice", "right"],
    t: ["choice", "tie"], b: ["choice", "both_bad"],
    q: ["strength", "slight"], w: ["strength", "clear"], e: ["strength", "much"],
  };
  let shownAt = performance.now();
  let assignment = null;
  let heartbeat = null;

  const labelForm = () => document.getElementById("label-form");
  const skipForm = () => document.getElementById("skip-form");

  function setRadio(form, name, value) {
    const input = form.querySelector(`input[name="${name}"][value="${value}"]`);
    if (!input) return;
    input.checked = true;
    if (name === "choice" && (value === "tie" || value === "both_bad")) {
      form.querySelectorAll('input[name="strength"]').forEach((s) => { s.checked = false; });
    }
  }

  function toggleFlag(form, index) {
    const boxes = form.querySelectorAll('input[name="flags"]');
    if (index < boxes.length) boxes[index].checked = !boxes[index].checked;
  }

  function openSkip(open) {
    const form = skipForm();
    if (!form) return;
    form.classList.toggle("hidden", !open);
    if (open) document.getElementById("skip-reason").focus();
    else document.activeElement.blur();
  }

  function stampDecision(form) {
    const field = form.querySelector('input[name="decision_ms"]');
    if (field) field.value = String(Math.round(performance.now() - shownAt));
  }

  function startHeartbeat(form) {
    if (heartbeat) clearInterval(heartbeat);
    heartbeat = null;
    if (!form) return;
    const seconds = Number(form.dataset.heartbeatSeconds || "60");
    heartbeat = setInterval(async () => {
      const response = await fetch(form.dataset.heartbeatUrl, {
        method: "POST",
        headers: { "X-CSRF-Token": document.body.dataset.csrf || "" },
        credentials: "same-origin",
      });
      if (response.status === 409) {
        const status = document.getElementById("lease-status");
        if (status) status.textContent = "Your time on this pair ran out; submitting will bring a new pair.";
        clearInterval(heartbeat);
      }
    }, seconds * 1000);
  }

  // A new pair is on screen (first load or an htmx swap): restart the clock and heartbeat.
  function onContent() {
    const form = labelForm();
    const id = form ? form.dataset.assignment : null;
    if (id !== assignment) {
      assignment = id;
      shownAt = performance.now();
      startHeartbeat(form);
    }
  }

  document.addEventListener("DOMContentLoaded", onContent);
  document.addEventListener("htmx:load", onContent);
  // Capture phase: runs before htmx serialises the form, for mouse and keyboard alike.
  document.addEventListener("submit", (event) => {
    if (event.target.id === "label-form") stampDecision(event.target);
  }, true);
  document.addEventListener("click", (event) => {
    if (event.target.closest("#skip-open")) openSkip(true);
  });

  document.addEventListener("keydown", (event) => {
    const target = event.target;
    const typing = target.matches("textarea, select, input[type=text]");
    // Undo works on an empty queue too: the last label's pair comes back.
    if (event.key === "u" && !typing && !event.altKey && !event.metaKey && !event.ctrlKey) {
      const undo = document.getElementById("undo-form");
      if (undo) {
        event.preventDefault();
        undo.requestSubmit();
      }
      return;
    }
    const form = labelForm();
    if (!form || event.altKey || event.metaKey) return;
    if (event.key === "Escape") { openSkip(false); return; }
    if (typing) {
      if (event.key === "Enter" && target.id === "skip-reason") {
        event.preventDefault();
        skipForm().requestSubmit();
      } else if (event.key === "Enter" && event.ctrlKey && target.id === "rationale") {
        event.preventDefault();
        form.requestSubmit();
      }
      return;
    }
    if (event.ctrlKey) return;
    if (event.shiftKey && /^Digit[1-9]$/.test(event.code)) {
      event.preventDefault();
      toggleFlag(form, Number(event.code.slice(5)) - 1);
      return;
    }
    const mapped = KEYS[event.key];
    if (mapped) {
      event.preventDefault();
      setRadio(form, mapped[0], mapped[1]);
    } else if (event.key === "Enter") {
      event.preventDefault();
      const skip = skipForm();
      if (skip && !skip.classList.contains("hidden")) skip.requestSubmit();
      else form.requestSubmit();
    } else if (event.key === "s") {
      event.preventDefault();
      openSkip(true);
    } else if (event.key === "r") {
      event.preventDefault();
      document.getElementById("rationale").focus();
    } else if (event.key === "g") {
      const guide = document.getElementById("guidelines");
      if (guide) guide.open = !guide.open;
    }
  });
})();
