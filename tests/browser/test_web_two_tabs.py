"""The README's browser walkthrough: two tabs of one browser (one profile) in one call.

Tabs of one origin share the browser's device key (IndexedDB is per origin), so the
walkthrough opens the server as http://127.0.0.1:PORT/ in one tab and as
http://localhost:PORT/ in the other: two origins, two device keys, two parties. Each
enrolls with the code from the URL fragment (`#code=...`, never sent to the server),
joins through the pre-join check, and decodes the other; both show one group code.
"""

from __future__ import annotations

from typing import Any

import pytest

from ..support.server import Server, server_fixture
from .support import ACCEPT_EVERY_DEVICE, MEDIA_ARGS, check_app_bundle, chromium

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]


server = server_fixture()


async def test_two_tabs_of_one_browser(server: Server) -> None:
    codes = {}
    for name in ("alice", "bob"):
        server.store.add_party(name)
        codes[name] = server.store.new_enrollment_code(name)
    server.store.add_room("summit", ["alice", "bob"])
    port = server.url.rsplit(":", 1)[1]
    async with chromium(MEDIA_ARGS, check_app_bundle) as browser:
        context = await browser.new_context(viewport={"width": 1000, "height": 800})
        await context.add_init_script(ACCEPT_EVERY_DEVICE)  # fresh identities: Accept each
        tabs = {}
        for name, host in (("alice", "127.0.0.1"), ("bob", "localhost")):
            page = await context.new_page()
            await page.goto(f"http://{host}:{port}/?video=320x240#code={codes[name]}")
            await page.wait_for_function("() => document.getElementById('code').value !== ''")
            assert await page.get_by_label("Enrollment code").input_value() == codes[name]
            await page.get_by_role("button", name="Enroll").click()
            await page.get_by_role("button", name="Join summit").click(timeout=15_000)
            await page.get_by_role("button", name="Join now").click(timeout=15_000)
            tabs[name] = page
        for name, other in (("alice", "bob"), ("bob", "alice")):
            await tabs[name].wait_for_function(
                f"() => (window.hotlineApp.remotes['{other}'] || {{}}).framesDecoded > 30",
                timeout=30_000)
        states: list[dict[str, Any]] = [await t.evaluate("() => window.hotlineApp")
                                        for t in tabs.values()]
        assert [s["party"] for s in states] == ["alice", "bob"]
        assert states[0]["fingerprint"] != states[1]["fingerprint"]
        assert states[0]["code"]["digits"] == states[1]["code"]["digits"]
        await context.close()
