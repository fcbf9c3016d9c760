"""The browser call page (``make web`` builds it in web/dist/app) as aiohttp routes.

Two servers use them: ``hotline serve`` (the page is *served by the server*, and talks to
its own origin) and ``hotline web`` (the page is *served by the user's own machine* and
talks to the server named with ``--server``, told by ``/app/config.json``). Either way the
page is sealed by the build: the script and stylesheet carry Subresource Integrity values,
the page's ``<meta>`` policy runs only the script whose hash it names, and the E2EE worker
is fetched with its integrity value. The header policy added here names the only
connections the page may open (``connect-src``).

``manifest.txt`` (written by the build, ``sha256sum`` format) lists every other file of
the bundle with its SHA-256; the bundle hash is the SHA-256 of manifest.txt.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from hotline.errors import ConfigError

#: The built browser client (``make web``): web/dist/app in a source checkout.
WEB_APP = Path(__file__).resolve().parents[3] / "web" / "dist" / "app"
MANIFEST = "manifest.txt"
_ASSET = re.compile(r"[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(js|css|map)|manifest\.(txt)")
_TYPES = {"js": "text/javascript", "css": "text/css", "map": "application/json",
          "txt": "text/plain; charset=utf-8"}
_LINE = re.compile(r"([0-9a-f]{64})  ([A-Za-z0-9._-]+)")


def policy(connect: Sequence[str]) -> str:
    """The page's Content-Security-Policy header: its own files, the E2EE worker (a blob
    made from the checked worker script), local media, and connections to ``connect``."""
    return ("default-src 'none'; script-src 'self'; worker-src blob:; style-src 'self'; "
            f"connect-src {' '.join(connect)}; media-src 'self' blob: mediastream:; "
            "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache"}


def bundle_hash(bundle: Path) -> str | None:
    """``sha256:<hex>`` of the bundle's manifest.txt, or None if it has none."""
    try:
        return "sha256:" + hashlib.sha256((bundle / MANIFEST).read_bytes()).hexdigest()
    except OSError:
        return None


def check_bundle(bundle: Path) -> str:
    """The bundle hash, once every file the manifest lists has that content and every
    file of the bundle is listed; else a ConfigError naming the first difference."""
    digest = bundle_hash(bundle)
    if digest is None:
        raise ConfigError(f"{bundle} has no {MANIFEST}: build the page with `make web`")
    listed: dict[str, str] = {}
    for line in (bundle / MANIFEST).read_text("utf-8", "replace").splitlines():
        match = _LINE.fullmatch(line)
        if match is None:
            raise ConfigError(f"{bundle / MANIFEST}: not a manifest line: {line[:80]!r}")
        listed[match.group(2)] = match.group(1)
    present = {p.name for p in bundle.iterdir() if p.is_file() and p.name != MANIFEST}
    if present != set(listed):
        odd = sorted(present ^ set(listed))
        raise ConfigError(f"{bundle}: files and {MANIFEST} differ ({', '.join(odd[:3])})")
    for name, want in sorted(listed.items()):
        if hashlib.sha256((bundle / name).read_bytes()).hexdigest() != want:
            raise ConfigError(f"{bundle / name} is not the file its {MANIFEST} lists")
    return digest


def websocket_origin(server: str) -> str:
    """The ws(s):// origin of an http(s):// server URL (for connect-src); ConfigError if
    ``server`` is not a plain http(s) origin (no path but "/", no user, query or fragment)."""
    try:
        url = urlsplit(server)
        port = url.port
    except ValueError:
        raise ConfigError(f"not a server URL: {server!r}") from None
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"the server must be an http:// or https:// URL, not {server!r}")
    if url.path not in ("", "/") or url.query or url.fragment or url.username or url.password:
        raise ConfigError(f"the server URL must be an origin only (scheme://host[:port]): "
                          f"{server!r}")
    scheme = "wss" if url.scheme == "https" else "ws"
    host = f"[{url.hostname}]" if ":" in url.hostname else url.hostname
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def add_page_routes(app: web.Application, bundle: Path, connect: Sequence[str],
                    config: dict[str, str], fallback: str | None = None) -> None:
    """``/`` (index.html, else ``fallback``), ``/app/NAME`` (the bundle's files by plain
    name: no paths, no listing) and ``/app/config.json`` (``config``: ``{"server": URL}``
    for a page that talks to another origin than its own, else ``{}``)."""
    headers = _headers(policy(connect))

    async def index(request: web.Request) -> web.StreamResponse:
        page = bundle / "index.html"
        if page.is_file():
            return web.FileResponse(page, headers={**headers, "Content-Type": "text/html"})
        if fallback is None:
            raise web.HTTPNotFound()
        return web.Response(text=fallback, content_type="text/html")

    async def asset(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        match = _ASSET.fullmatch(name)
        path = bundle / name
        if match is None or not path.is_file():
            raise web.HTTPNotFound()
        kind = match.group(2) or match.group(3)
        return web.FileResponse(path, headers={**headers, "Content-Type": _TYPES[kind]})

    body = json.dumps(config)

    async def served_config(request: web.Request) -> web.Response:
        return web.Response(text=body, content_type="application/json", headers=headers)

    app.router.add_get("/", index)
    app.router.add_get("/app/config.json", served_config)
    app.router.add_get("/app/{name}", asset)
