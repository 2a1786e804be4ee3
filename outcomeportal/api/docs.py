"""The API's interactive documentation, served from this install alone.

Swagger UI (``/api/docs/``) and Redoc (``/api/redoc/``) come from drf-spectacular-sidecar's static
files (``SPECTACULAR_SETTINGS``: ``SWAGGER_UI_DIST`` etc. ``"SIDECAR"``), so the pages work with no
internet, and their templates (``templates/drf_spectacular/``) hold no inline script or style.

* Swagger UI runs under the portal's strict Content-Security-Policy: the split view serves its
  start-up script as a file of its own (``?script``) instead of an inline block.
* Redoc builds its styles at run time into ``<style>`` elements (styled-components) and runs its
  search in a worker made from a ``blob:`` URL. Its page alone therefore allows inline *styles*
  (never inline script) and blob: workers; without them it renders nothing. The page shows only
  the API schema, no customer data.
"""

from __future__ import annotations

from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

swagger_ui = SpectacularSwaggerSplitView.as_view(url_name="api-schema")

redoc = csp_update({"style-src": [UNSAFE_INLINE], "worker-src": [SELF, "blob:"]})(
    SpectacularRedocView.as_view(url_name="api-schema")
)
