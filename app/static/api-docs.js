// Starts Swagger UI on /docs (a file, not an inline script, so the CSP needs no exception).
(function () {
  var root = document.getElementById("swagger-ui");
  window.ui = SwaggerUIBundle({
    url: root.dataset.openapiUrl,
    domNode: root,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    deepLinking: true,
    validatorUrl: null, // never ask a third-party validator about our schema
  });
})();
