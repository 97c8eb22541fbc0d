"""The web map's routes: the page, its static files and the basemap (no token needed).

They hold no data: the page asks ``/api/v1`` for everything else, with the user's token.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path, PurePosixPath

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from mista.web.basemap import land_geojson, land_geojson_gzip

__all__ = ["STATIC_DIR", "VENDOR_FILES", "web_router"]

#: The page, its script and style, and (under vendor/) the MapLibre build.
STATIC_DIR = Path(str(resources.files("mista.web").joinpath("static")))
#: What scripts/build_web copies into static/vendor/; the page needs both.
VENDOR_FILES = ("maplibre-gl.js", "maplibre-gl.css")

_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
#: The vendored build changes only with the lock file; the app's own files with each release.
_VENDOR_CACHE = "public, max-age=86400"
_APP_CACHE = "no-cache"

_NOT_BUILT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>mista: web map not built</title></head>
<body><h1>The web map is not built</h1>
<p>This installation lacks MapLibre GL JS ({missing}). From a mista checkout, run
<code>scripts/build_web</code> (needs node and npm), then reload this page.</p>
<p>The API under <code>/api/v1</code> works without it.</p></body></html>
"""


def _static_file(static_dir: Path, path: str) -> Path:
    """The file ``path`` names under ``static_dir``; 404 for anything else (no ``..``, no
    absolute paths, no directories, no dot-files)."""
    parts = PurePosixPath(path).parts
    if (
        not parts
        or path.endswith("/")
        or any(part in ("", ".", "..") or part.startswith((".", "/")) for part in parts)
    ):
        raise HTTPException(status_code=404, detail=f"no static file {path!r}")
    candidate = static_dir.joinpath(*parts)
    if candidate.suffix not in _MEDIA_TYPES or not candidate.is_file():
        raise HTTPException(status_code=404, detail=f"no static file {path!r}")
    return candidate


def web_router(*, static_dir: Path | None = None) -> APIRouter:
    """``GET /`` (the page), ``GET /static/{path}`` and ``GET /basemap/land.geojson``.

    ``static_dir`` replaces the package's static folder (for tests)."""
    root = STATIC_DIR if static_dir is None else static_dir
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def index() -> Response:
        missing = [name for name in VENDOR_FILES if not (root / "vendor" / name).is_file()]
        if missing:
            return HTMLResponse(_NOT_BUILT.format(missing=", ".join(missing)), status_code=503)
        return FileResponse(
            root / "index.html",
            media_type=_MEDIA_TYPES[".html"],
            headers={"Cache-Control": _APP_CACHE},
        )

    @router.get("/static/{path:path}")
    def static(path: str) -> FileResponse:
        found = _static_file(root, path)
        cache = _VENDOR_CACHE if path.startswith("vendor/") else _APP_CACHE
        return FileResponse(
            found, media_type=_MEDIA_TYPES[found.suffix], headers={"Cache-Control": cache}
        )

    @router.get("/basemap/land.geojson")
    def land(request: Request) -> Response:
        headers = {"Cache-Control": _VENDOR_CACHE, "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            headers["Content-Encoding"] = "gzip"
            return Response(land_geojson_gzip(), media_type="application/geo+json", headers=headers)
        return Response(land_geojson(), media_type="application/geo+json", headers=headers)

    return router
