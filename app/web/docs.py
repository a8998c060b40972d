"""The API reference at ``/docs``: Swagger UI from vendored, pinned files (static/swagger/, see
static/js/VENDORED.md), so it works offline and under the site's normal CSP (no inline script or style, no CDN).

FastAPI's built-in page is switched off (``docs_url=None`` in ``create_app``): it loads Swagger UI from a CDN and
starts it with an inline script. ReDoc is switched off too (``redoc_url=None``); ``/openapi.json`` is unchanged.
"""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

router = APIRouter()

SWAGGER = "/static/swagger"

PAGE = """<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{title} - API reference</title>
  <link rel="icon" type="image/png" href="{swagger}/favicon-32x32.png">
  <link rel="stylesheet" href="{swagger}/swagger-ui.css">
  <script src="{swagger}/swagger-ui-bundle.js" defer></script>
  <script src="{swagger}/init.js" defer></script>
</head>
<body>
  <noscript><p>The interactive reference needs JavaScript; the OpenAPI document is at
    <a href="{spec}">{spec}</a>.</p></noscript>
  <div id="swagger-ui" data-spec-url="{spec}"></div>
</body>
</html>
"""


@router.get("/docs", include_in_schema=False, response_class=HTMLResponse)
async def docs(request: Request) -> HTMLResponse:
    app = request.app
    root = request.scope.get("root_path", "").rstrip("/")
    spec = root + (app.openapi_url or "/openapi.json")
    html = PAGE.format(title=escape(app.title), swagger=escape(root + SWAGGER), spec=escape(spec))
    return HTMLResponse(html)
