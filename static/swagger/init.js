// Starts the vendored Swagger UI on /docs. This file is ours (not part of swagger-ui-dist): the page has no inline
// script, so the CSP can stay script-src 'self'. The spec URL comes from the page (data-spec-url on #swagger-ui).
(function () {
  "use strict";

  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || typeof window.SwaggerUIBundle !== "function") { return; }
    window.ui = window.SwaggerUIBundle({
      url: root.getAttribute("data-spec-url") || "/openapi.json",
      dom_id: "#swagger-ui",
      layout: "BaseLayout",
      presets: [window.SwaggerUIBundle.presets.apis],
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      // No online validator badge: it would load an image from validator.swagger.io (blocked, and offline).
      validatorUrl: null,
      // The API has no OAuth; there is no redirect page to point at.
      oauth2RedirectUrl: null
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
