"""The call page run from code the user controls (`hotline web`), and the seals on the page's
code (Subresource Integrity, Content-Security-Policy), against a server that serves
modified code.

The Hotline server here is malicious about the page: it serves a modified bundle whose
script is consistently re-sealed (new integrity values, new manifest), as a server that
wants its own code in users' browsers would. What is proved:

- the page served by this machine (make_web_app, what `hotline web` runs) enrolls, joins a
  room on that server and exchanges media with a Python participant in both directions
  (frames decrypted each way), while the server's modified script never runs in it and the
  server answers it no HTTP request but the signaling WebSocket; the page shows the hash of
  the local build, "served by this machine";
- the page served by the server runs the server's modified script, and shows a bundle hash
  that differs from the user's own build: the comparison the README describes catches it;
  served with the honest manifest instead, the page says the manifest does not name the
  code it runs;
- a script, worker or stylesheet with one byte changed (index.html unchanged) is refused by
  the browser: the page does not start, or stops before it connects;
- the policy blocks a fetch and a WebSocket to any origin but the configured server, in
  both modes (the other origin sees 0 requests), and a script of the page's own origin
  that is not the one whose hash the page names.

Needs ``make web`` and the loopback-only namespace.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from aiohttp import web

from hotline.cli.web import make_web_app
from hotline.client.call import Call
from hotline.crypto.identity import Identity
from hotline.server.app import make_app
from hotline.server.settings import Settings
from hotline.server.store import SqliteStore
from hotline.server.webpage import WEB_APP, bundle_hash

from ..support.server import serving
from ..support.trust import accept_all
from ..support.wait import wait_until
from .support import ACCEPT_EVERY_DEVICE, MEDIA_ARGS, check_app_bundle, chromium, watch_problems

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

ROOM = "summit"
MARK = b"\n;window.hotlineServerCode = (window.hotlineServerCode || 0) + 1;\n"


def _sri(data: bytes) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(data).digest()).decode()


def _reseal(bundle: Path) -> None:
    lines = [f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n"
             for p in sorted(bundle.iterdir()) if p.name != "manifest.txt"]
    (bundle / "manifest.txt").write_text("".join(lines))


def evil_bundle(tmp: Path) -> Path:
    """The server's modified page: its own code appended to main.js, sealed consistently."""
    bundle = tmp / "evil-app"
    shutil.copytree(WEB_APP, bundle)
    script = bundle / "main.js"
    old = _sri(script.read_bytes())
    script.write_bytes(script.read_bytes() + MARK)
    page = bundle / "index.html"
    page.write_text(page.read_text().replace(old, _sri(script.read_bytes())))
    _reseal(bundle)
    return bundle


def tampered_bundle(tmp: Path, name: str) -> Path:
    """One byte of ``name`` changed (still valid code); index.html as built."""
    bundle = tmp / f"tampered-{name}"
    shutil.copytree(WEB_APP, bundle)
    data = (bundle / name).read_bytes()
    at = data.rindex(b".map") + 2 if name.endswith(".js") else data.index(b"{") - 1
    (bundle / name).write_bytes(data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1:])
    return bundle


@asynccontextmanager
async def hotline_server(tmp: Path, bundle: Path
                         ) -> AsyncIterator[tuple[str, SqliteStore, list[str]]]:
    """A real Hotline server serving ``bundle``; yields its URL, store and the paths of
    every HTTP request it answered."""
    store = SqliteStore(tmp / "data")
    app = make_app(Settings(host="127.0.0.1", port=0, data_dir=tmp / "data", join_timeout=5.0),
                   store=store, web_app=bundle)
    requests: list[str] = []

    async def log(request: web.Request, response: web.StreamResponse) -> None:
        requests.append(request.path)

    app.on_response_prepare.append(log)
    try:
        async with serving(app) as url:
            yield url, store, requests
    finally:
        store.close()


async def test_local_page_calls_through_a_server_that_serves_modified_code(
        tmp_path: Path) -> None:
    evil = evil_bundle(tmp_path)
    async with (hotline_server(tmp_path, evil) as (server, store, requests),
                serving(make_web_app(server, WEB_APP)) as local,
                chromium(MEDIA_ARGS, check_app_bundle) as browser):
        for name in ("alice", "carol"):
            store.add_party(name)
        store.add_room(ROOM, ["alice", "carol"])
        alice_code, carol_code = (store.new_enrollment_code(n) for n in ("alice", "carol"))

        context = await browser.new_context()
        await context.add_init_script(ACCEPT_EVERY_DEVICE)  # fresh identities: Accept each
        page = await context.new_page()
        problems = watch_problems(page, [])
        fetched: list[str] = []
        page.on("request", lambda r: fetched.append(r.url))
        await page.goto(f"{local}/?video=320x240#code={alice_code}")
        await page.get_by_role("button", name="Enroll").click(timeout=15_000)
        await page.get_by_role("button", name=f"Join {ROOM}").click(timeout=15_000)
        await page.get_by_role("button", name="Join now").click(timeout=15_000)
        carol = Call(server, Identity.generate(), ROOM, trust_policy=accept_all())
        await carol.start(enroll_code=carol_code)
        try:
            async def both_ways() -> bool:
                st = await page.evaluate("() => window.hotlineApp")
                got = carol.stats().remote.get("alice", {}).get("video_frames_decrypted", 0)
                return bool(got > 30 and st["remotes"].get("carol", {}).get(
                    "framesDecoded", 0) > 30)

            await wait_until(both_ways, 30, "alice and carol decrypting each other")
            st = await page.evaluate("() => window.hotlineApp")
            assert await page.evaluate("() => window.hotlineServerCode") is None
            served = [p for p in requests if p != "/ws"]
            assert served == [], f"the server answered the local page: {served}"
            origins = {"{0.scheme}://{0.netloc}".format(urlsplit(u)) for u in fetched
                       if not u.startswith(("blob:", "data:"))}  # the worker, the icon
            assert origins == {local}, fetched  # every file and fetch from this machine
            assert st["provenance"] == {
                "servedBy": "this machine", "page": local, "server": server,
                "bundle": bundle_hash(WEB_APP), "consistent": True}
            footer = await page.locator("#provenance").inner_text()
            assert f"code: {bundle_hash(WEB_APP)}" in footer and "served by this machine" in footer
            assert not problems, problems
            ws_opened = requests.count("/ws")
            decrypted = carol.stats().remote["alice"]["video_frames_decrypted"]
            decoded = st["remotes"]["carol"]["framesDecoded"]
        finally:
            await carol.close()
        await context.close()

        # The same server's own page runs its modified code; its hash gives it away.
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(server + "/")
        await page.wait_for_function("() => window.hotlineApp && window.hotlineApp.provenance")
        st = await page.evaluate("() => window.hotlineApp")
        assert await page.evaluate("() => window.hotlineServerCode") == 1
        assert st["provenance"]["servedBy"] == "the server"
        assert st["provenance"]["bundle"] == bundle_hash(evil) != bundle_hash(WEB_APP)
        await context.close()
        print(f"\nlocal page: server answered {ws_opened} WebSocket(s), 0 other requests; carol "
              f"decrypted {decrypted} video frames of alice; alice decoded {decoded} of "
              f"carol's; server's own page hash {bundle_hash(evil)} vs own build "
              f"{bundle_hash(WEB_APP)}")


@pytest.mark.parametrize("name", ["main.js", "transform-worker.js", "app.css"])
async def test_a_changed_byte_is_refused(tmp_path: Path, name: str) -> None:
    async with (hotline_server(tmp_path, tampered_bundle(tmp_path, name)) as (server, _, requests),
                chromium(MEDIA_ARGS, check_app_bundle) as browser):
        context = await browser.new_context()
        page = await context.new_page()
        problems = watch_problems(page, [])
        await page.goto(server + "/")
        if name == "main.js":  # the page's script never runs
            await asyncio.sleep(2.0)
            assert await page.evaluate("() => typeof window.hotlineApp") == "undefined"
            assert "/ws" not in requests
        elif name == "transform-worker.js":  # the page refuses the worker, never connects
            await page.wait_for_function("() => window.hotlineApp.error !== null", timeout=10_000)
            error = await page.evaluate("() => window.hotlineApp.error")
            assert "not the code this page was built with" in error, error
            assert await page.evaluate("() => window.hotlineApp.phase") == "loading"
            assert "/ws" not in requests
        else:  # the stylesheet is not applied (the page runs, unstyled)
            await page.wait_for_function("() => window.hotlineApp.phase === 'enroll'")
            assert await page.evaluate("() => document.styleSheets.length") == 0
        assert any("integrity" in p for p in problems), problems
        print(f"\n{name} with one byte changed: refused ({[p[:90] for p in problems]})")
        await context.close()


async def _elsewhere() -> tuple[web.Application, list[str]]:
    seen: list[str] = []

    async def anything(request: web.Request) -> web.Response:
        seen.append(request.path)
        return web.Response(text="ok", headers={"Access-Control-Allow-Origin": "*"})

    app = web.Application()
    app.router.add_get("/{tail:.*}", anything)
    return app, seen


PROBE = """async ([other, allowed]) => {
  const violations = [];
  document.addEventListener("securitypolicyviolation",
    (e) => violations.push(`${e.violatedDirective} ${e.blockedURI}`));
  const socket = (url) => new Promise((done) => {
    try {
      const ws = new WebSocket(url);
      ws.onopen = () => { ws.close(); done("open"); };
      ws.onerror = () => done("error");
    } catch (e) { done("threw " + e.name); }
  });
  let fetched;
  try { fetched = (await fetch(other + "/data")).status; } catch (e) { fetched = "refused"; }
  const ws = await socket(other.replace("http://", "ws://") + "/ws");
  const own = await socket(allowed);
  const script = await new Promise((done) => {  // same origin, but not the hash the page names
    const s = document.createElement("script");
    s.src = "/app/transform-worker.js";
    s.onload = () => done("ran");
    s.onerror = () => done("refused");
    document.head.append(s);
  });
  await new Promise((r) => setTimeout(r, 200));
  return { violations, fetched, ws, own, script };
}"""


@pytest.mark.parametrize("mode", ["this machine", "the server"])
async def test_the_policy_blocks_other_origins(tmp_path: Path, mode: str) -> None:
    other_app, seen = await _elsewhere()
    async with (hotline_server(tmp_path, WEB_APP) as (server, _, _requests),
                serving(make_web_app(server, WEB_APP)) as local,
                serving(other_app) as other,
                chromium(MEDIA_ARGS, check_app_bundle) as browser):
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto((local if mode == "this machine" else server) + "/")
        await page.wait_for_function("() => window.hotlineApp.phase === 'enroll'")
        assert (await page.evaluate("() => window.hotlineApp.provenance.servedBy")) == mode
        result = await page.evaluate(PROBE, [other, server.replace("http://", "ws://") + "/ws"])
        assert result["fetched"] == "refused" and result["ws"] != "open", result
        assert result["own"] == "open", result  # the configured server stays reachable
        assert seen == [], f"the other origin was reached: {seen}"
        assert sum("connect-src" in v for v in result["violations"]) == 2, result
        assert result["script"] == "refused", result  # scripts run only by hash
        assert any(v.startswith("script-src") for v in result["violations"]), result
        print(f"\n{mode}: other origin reached 0 times; {result}")
        await context.close()


async def test_a_manifest_that_does_not_name_the_running_code_is_flagged(tmp_path: Path) -> None:
    """A server that runs its own script but serves the honest manifest (to show the
    honest hash): the page sees that the manifest does not name its script and says so.
    (A server that also changes the page's code can make it say anything: README.)"""
    evil = evil_bundle(tmp_path)
    shutil.copy2(WEB_APP / "manifest.txt", evil / "manifest.txt")
    async with (hotline_server(tmp_path, evil) as (server, _, _requests),
                chromium(MEDIA_ARGS, check_app_bundle) as browser):
        context = await browser.new_context()
        page = await context.new_page()
        await page.goto(server + "/")
        await page.wait_for_function("() => window.hotlineApp && window.hotlineApp.provenance")
        provenance = await page.evaluate("() => window.hotlineApp.provenance")
        assert provenance["bundle"] == bundle_hash(WEB_APP) and not provenance["consistent"]
        footer = await page.locator("#provenance").inner_text()
        assert "does NOT match the code running" in footer, footer
        await context.close()
