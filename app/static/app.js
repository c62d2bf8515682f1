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
