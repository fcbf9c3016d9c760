"""Open part -> closed part in the call page (REQUIREMENTS L3), with Chromium pages and a
Python principal in one call through the real SFU:

- the Python principal closes the call: within 2 s both pages show CLOSED in
  ``#call-phase`` (with a line in ``#phase-log``), and the press page shows
  ``#closed-screen`` (it stays connected) while the principal's page does not;
- the principal's page presses ``#phase-reopen``: the page signs the phase proof with its
  device's non-extractable key, the Python client (a second implementation) verifies it
  and shows OPEN, the pages show OPEN and the closed screen goes away.

Needs ``make web`` and the loopback-only namespace (as tests/browser/test_web_call.py).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from ..support.server import Server, running_server
from ..support.trust import accept_all
from ..support.wait import wait_until
from .callpage import ROOM, Page, enrolled, join
from .support import MEDIA_ARGS, browser_fixture, check_app_bundle

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
ROLES = {"alice": "principal", "dana": "principal", "press": "press"}
CLOSED_WITHIN = 2.0
browser = browser_fixture(MEDIA_ARGS, check_app_bundle)


@pytest_asyncio.fixture
async def summit(tmp_path: Path) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        yield srv, srv.room(ROOM, list(ROLES), ROLES)


async def _shows(p: Page, phase: str) -> float:
    """Seconds until ``p`` shows ``phase`` in #call-phase."""
    start = time.monotonic()
    await p.until(f"() => document.getElementById('call-phase').textContent === '{phase.upper()}'"
                  f" && window.hotlineApp.callPhase.phase === '{phase}'", 10)
    return time.monotonic() - start


async def test_pages_show_closed_and_the_press_the_closed_screen(
        summit: tuple[Server, dict[str, str]], browser: Any, tmp_path: Path) -> None:
    srv, codes = summit
    alice = Call(srv.url, Identity.generate(), ROOM, video_size=(160, 120),
                 trust_policy=accept_all())
    await alice.start(enroll_code=codes["alice"])
    try:
        dana = await enrolled(browser, srv.url, "dana", codes["dana"], console=True)
        press = await enrolled(browser, srv.url, "press", codes["press"], console=True)
        await join(dana)
        await press.page.get_by_role("button", name=f"Join {ROOM}").click()  # listens only:
        await press.until("() => window.hotlineApp.phase === 'in-call'", 30)  # no pre-join
        for p in (dana, press):
            assert await p.page.locator("#call-phase").inner_text() == "OPEN"
        assert await dana.page.locator("#phase-close").is_visible()
        assert not await press.page.locator("#phase-close").is_visible()

        async def press_sees() -> bool:
            return int((await press.remote("alice")).get("framesDecoded", 0)) > 10

        await wait_until(press_sees, 30.0, "the press page decodes the open part")

        # -- the Python principal closes ------------------------------------------------
        start = time.monotonic()
        await alice.set_phase("closed")
        for p in (dana, press):
            await _shows(p, "closed")
        shown_after = time.monotonic() - start  # both shown (an upper bound for each)
        print(f"\nclose by a Python principal -> both pages show CLOSED within "
              f"{shown_after * 1000:.0f} ms")
        assert shown_after < CLOSED_WITHIN
        await press.page.locator("#closed-screen").wait_for(state="visible")
        assert not await dana.page.locator("#closed-screen").is_visible()
        assert "CLOSED" in await dana.page.locator("#phase-log").inner_text()
        shot = tmp_path / "press-closed.png"
        await press.page.screenshot(path=str(shot), full_page=True)
        print(f"the press page in the closed part: {shot}")
        assert (await press.state())["phase"] == "in-call"  # connected, shown out

        # -- the principal's page reopens (signed in the page) ---------------------------
        await dana.page.locator("#phase-reopen").click()
        await _shows(dana, "open")
        await _shows(press, "open")

        async def python_open() -> bool:
            return alice.phase == "open"

        await wait_until(python_open, 5.0, "the Python principal believes the page's proof")
        await press.page.locator("#closed-screen").wait_for(state="hidden")
        assert not alice.signaling.phases.alarms
        for p in (dana, press):
            st = await p.state()
            assert [c["phase"] for c in st["callPhase"]["changes"]] == ["closed", "open"]
            assert st["callPhase"]["alarms"] == []
            assert not p.problems, f"{p.name}: " + "\n".join(p.problems)
    finally:
        await alice.close()
