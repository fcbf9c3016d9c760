"""Consented recording in the call page (Chromium, fake camera and microphone, loopback-only
namespace), with the real server, SFU and a Python recorder seat (hotline.client.recording):

- a principal's page shows the ``#record-consent`` dialog for the recorder's request;
  Allow signs the consent with the page's device key, and the recorder (which checks it
  with the principal's identity key) records;
- every page shows ``#recording-indicator`` "● recorded by rec" while it records;
- a second principal joins: the recorder pauses (indicator gone) and asks again; Refuse
  in her dialog blocks it: no new file, the indicator stays gone on every page.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.client.recording import Recorder
from hotline.crypto.identity import Identity

from ..support.server import Server, running_server
from ..support.trust import accept_all
from ..support.wait import wait_until
from .callpage import ROOM, Page, enrolled, join
from .support import MEDIA_ARGS, browser_fixture, check_app_bundle

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]
ROLES = {"alice": "principal", "carl": "principal", "rec": "recorder"}
INDICATOR = "() => { const e = document.getElementById('recording-indicator'); " \
            "return e !== null && !e.hidden && e.textContent === '● recorded by rec'; }"
NO_INDICATOR = "() => document.getElementById('recording-indicator').hidden"
DIALOG = "() => !document.getElementById('record-consent').hidden"

browser = browser_fixture(MEDIA_ARGS, check_app_bundle)


@pytest_asyncio.fixture
async def summit(tmp_path: Path) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        yield srv, srv.room(ROOM, list(ROLES), ROLES)


async def _said(recorder: Recorder, text: str, timeout: float = 30.0) -> None:
    async def said() -> bool:
        return any(text in line for line in recorder.log)
    await wait_until(said, timeout, f"the recorder to say {text!r} (said {recorder.log})")


async def test_consent_dialog_and_indicator(browser: Any, summit: tuple[Server, dict[str, str]],
                                            tmp_path: Path) -> None:
    srv, codes = summit
    alice = await enrolled(browser, srv.url, "alice", codes["alice"])
    await join(alice)
    out = tmp_path / "out"
    call = Call(srv.url, Identity.generate(), ROOM, trust_policy=accept_all())
    recorder = Recorder(call, out, "open")
    recorder.attach()
    pages: list[Page] = [alice]
    try:
        await call.start(enroll_code=codes["rec"])
        recorder.start()
        await _said(recorder, "waiting for consent of alice")
        await alice.until(DIALOG, 20)
        text = await alice.page.locator("#record-consent-text").text_content()
        assert "rec asks to record the open part" in (text or "")
        assert not out.exists()
        await alice.page.get_by_role("button", name="Allow").click()
        await alice.until("() => document.getElementById('record-consent').hidden")
        await _said(recorder, "recording to")
        await alice.until(INDICATOR, 20)

        async def written() -> bool:
            return recorder._writer is not None and recorder._writer.frames > 100
        await wait_until(written, 40.0, "frames from alice's page written")
        assert recorder._writer is not None and "alice video" in recorder._writer.titles

        carl = await enrolled(browser, srv.url, "carl", codes["carl"])
        pages.append(carl)
        await join(carl)
        await _said(recorder, "paused: waiting for consent of carl")
        await alice.until(NO_INDICATOR, 20)
        await carl.until(DIALOG, 20)
        await carl.page.get_by_role("button", name="Refuse").click()
        await _said(recorder, "refused by carl")
        files = list(recorder.files)
        assert len(files) == 1 and files[0].stat().st_size > 0
        for p in pages:
            await p.until(NO_INDICATOR, 10)
        assert recorder._writer is None and sorted(out.iterdir()) == files
        for p in pages:
            assert p.problems == [], p.problems
    finally:
        await call.close()
        for p in pages:
            await p.page.context.close()
