// Sends the CSRF token with every htmx request (cookie-authenticated writes need it).
document.addEventListener("htmx:configRequest", (event) => {
  const token = document.body.dataset.csrf;
  if (token) event.detail.headers["X-CSRF-Token"] = token;
});

// A "select all" box ticks or clears every box named by its data-selects attribute.
document.addEventListener("change", (event) => {
  const box = event.target;
  if (!(box instanceof HTMLInputElement) || !box.dataset.selects) return;
  document.querySelectorAll(`input[type=checkbox][name="${box.dataset.selects}"]`).forEach((other) => {
    other.checked = box.checked;
  });
});

// Upload forms (data-upload-progress) fill their <progress> as the file goes up. htmx reports
// the upload's and then the response's progress under one event name: the bar only grows.
document.addEventListener("htmx:beforeRequest", (event) => {
  const bar = event.target.closest?.("form[data-upload-progress]")?.querySelector("progress");
  if (bar) {
    bar.value = 0;
    bar.hidden = false;
  }
});
document.addEventListener("htmx:xhr:progress", (event) => {
  const bar = event.target.closest?.("form[data-upload-progress]")?.querySelector("progress");
  if (!bar || !event.detail.lengthComputable || !event.detail.total) return;
  bar.value = Math.max(bar.value, (100 * event.detail.loaded) / event.detail.total);
});
document.addEventListener("htmx:afterRequest", (event) => {
  const bar = event.target.closest?.("form[data-upload-progress]")?.querySelector("progress");
  if (bar) bar.value = 100;
});
// An upload the server refused (422) still names its bad rows: swap that outcome in too.
document.addEventListener("htmx:beforeSwap", (event) => {
  const form = event.detail.requestConfig?.elt?.closest?.("form[data-upload-progress]");
  if (form && event.detail.xhr.status === 422) {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
