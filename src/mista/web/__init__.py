"""The live web map: a MapLibre GL page served by the node's API app.

``web_router()`` serves the page (``GET /``), its script, style and the vendored MapLibre
GL JS (``GET /static/{path}``, built from npm by ``scripts/build_web``) and the offline
basemap (``GET /basemap/land.geojson``, Natural Earth land shipped in ``mista.geo``). None of
these hold data, so none needs a token; the page reads everything else from ``/api/v1`` with
the user's Bearer token. No CDN, no tile server: the node serves all of it.
"""

from mista.web.basemap import land_geojson
from mista.web.routes import web_router

__all__ = ["land_geojson", "web_router"]
