"""The call page in a second browser engine: Debian's Firefox ESR, driven over WebDriver
BiDi (tests/browser/firefox/), in the suite's namespace with an address of its own
(Firefox gathers no loopback candidates; tests/browser/firefox/network.py) that the SFU
binds.

- a Firefox page, a Chromium page and a Python client in one room: each decrypts the
  others' audio and video, nothing fails to decrypt, one group code, shown in Firefox;
- the fail-closed check in Firefox: with every transform assignment ignored (as a
  browser that drops a transform would), no camera or microphone frame leaves and the
  call ends with the E2EE error;
- a hotline standby in Firefox: a link test with a Python standby at the far end is
  `ok` and the page shows it;
- a Firefox without RTCRtpScriptTransform (its pref turned off) refuses, naming what is
  missing, before anything is enrolled or joined.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from ..integration.hotline_support import enroll, standby
from ..support.server import Server, running_server
from ..support.trust import accept_all
from .callpage import NAMES, ROOM, Page, enrolled, join
from .firefox.engine import firefox
from .firefox.network import netns_address  # noqa: F401  (a fixture)
from .support import MEDIA_ARGS, check_app_bundle, chromium
from .test_web_call import OTHERS, all_decode, codes, failures, figures
from .test_web_controls import DISABLE_TRANSFORMS
from .test_web_hotline import COUNT_GUM, HOTLINE, LINKTESTS, pin_in_page
from .test_web_send_proof import INSTRUMENT, click_join, media

pytestmark = [pytest.mark.asyncio]

WINDOW = 5.0


@pytest_asyncio.fixture
async def hotline(tmp_path: Path, netns_address: str  # noqa: F811
                  ) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    async with running_server(tmp_path / "data", join_timeout=5.0,
                              media_host=netns_address) as srv:
        yield srv, srv.room(ROOM, NAMES)


async def test_firefox_chromium_and_python_in_one_call(
        hotline: tuple[Server, dict[str, str]]) -> None:
    srv, enroll_codes = hotline
    started = time.monotonic()
    async with firefox() as ff, chromium(MEDIA_ARGS, check_app_bundle) as ch:
        alice = await enrolled(ff, srv.url, "alice", enroll_codes["alice"], console=True)
        await join(alice)
        bob = await enrolled(ch, srv.url, "bob", enroll_codes["bob"], console=True)
        await join(bob)
        carol = Call(srv.url, Identity.generate(), ROOM, trust_policy=accept_all())
        await carol.start(enroll_code=enroll_codes["carol"])
        parties = [alice, bob]
        try:
            await all_decode(parties, carol, OTHERS, minimum=30, timeout=40, srv=srv)
            first_media = time.monotonic() - started
            before = await figures(parties, carol)
            remotes_before = {p.name: (await p.state())["remotes"] for p in parties}
            await asyncio.sleep(WINDOW)
            after = await figures(parties, carol)
            # Carol (Python) decrypts what each browser's worker encrypted
            ratios = {}
            for key, (sent1, got1) in after.items():
                sent, got = sent1 - before[key][0], got1 - before[key][1]
                ratios[key] = (got, sent)
                assert sent > (50 if key[1] == "video" else 150), (key, sent)
                assert got >= 0.9 * sent, f"{key}: carol decrypted {got} of {sent}"
            assert not any(failures(carol).values()) or all(
                sum(per.values()) <= 2 for per in failures(carol).values()), failures(carol)
            # each browser decrypts and plays the two others' video and audio
            decoded = {}
            for p in parties:
                st = await p.state()
                assert st["error"] is None and not st["worker"]["locked"], st["error"]
                for other in OTHERS[p.name]:
                    r, r0 = st["remotes"][other], remotes_before[p.name][other]
                    decoded[(p.name, other)] = (r["framesDecoded"] - r0["framesDecoded"],
                                                r["audioSamplesReceived"]
                                                - r0["audioSamplesReceived"])
                    assert r["framesDecoded"] - r0["framesDecoded"] > 30, (p.name, other, r)
                    # 5 s of 48 kHz audio: well over 1 s of it decoded and played
                    assert r["audioSamplesReceived"] - r0["audioSamplesReceived"] > 48_000, \
                        (p.name, other, r)
                    assert r["decryptFailures"] == 0 and r["wrongStream"] == 0, (p.name, r)
                    assert r["keys"] == "ok" and r["checked"], (p.name, other, r)
            # one group code, and the Firefox page shows it
            code = await codes(parties, carol)
            assert len(set(code.values())) == 1 and code["carol"], code
            assert await alice.page.locator("#code-digits").inner_text() == code["alice"]
            words = carol.signaling.code.words if carol.signaling.code else ""
            assert await alice.page.locator("#code-words").inner_text() == words
            await alice.page.get_by_text("encrypted · via SFU").wait_for()
            await alice.page.screenshot(path=str(srv.store.data_dir / "firefox-call.png"),
                                        full_page=True)
            for p in parties:
                assert not p.problems, f"{p.name}: " + "\n".join(p.problems)
            print(f"\n{ff.version}: first media after {first_media:.1f} s; carol decrypted "
                  f"(got, sent) over {WINDOW:.0f} s: {ratios}; browsers decoded (video "
                  f"frames, audio samples) {decoded}; total {time.monotonic() - started:.1f} s")
        finally:
            await carol.close()
