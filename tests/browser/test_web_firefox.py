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

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.crypto.identity import Identity
from hotline.rtc.aiortc_adapter import dtls_transport

from ..integration.hotline_support import standby
from ..support.server import Server, running_server
from ..support.trust import accept_all
from .callpage import NAMES, ROOM, enrolled, join
from .firefox.engine import firefox
from .firefox.network import netns_address  # noqa: F401  (a fixture)
from .support import MEDIA_ARGS, check_app_bundle, chromium
from .test_web_call import OTHERS, all_decode, codes, failures, figures
from .test_web_hotline import LINKTESTS, hotline_dashboard, linktest_ok
from .test_web_send_proof import forced_bypass

pytestmark = [pytest.mark.asyncio]

WARMUP, WINDOW = 2.0, 5.0
#: test_web_hotline's count of getUserMedia calls, installed with ``evaluate`` once the
#: page has loaded: as an init script (a BiDi preload script) Firefox 140 sometimes
#: reports 'Permission denied to access property "length"' in the page.
COUNT_GUM = """() => {
  window.__gum = 0;
  const gum = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = function (c) {
    window.__gum += 1;
    return gum.call(this, c);
  };
}"""


@pytest_asyncio.fixture
async def hotline(tmp_path: Path, netns_address: str  # noqa: F811
                  ) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    async with running_server(tmp_path / "data", join_timeout=5.0,
                              media_host=netns_address) as srv:
        yield srv, srv.room(ROOM, NAMES)


async def test_firefox_chromium_and_python_in_one_call(
        hotline: tuple[Server, dict[str, str]], netns_address: str) -> None:  # noqa: F811
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
            for p in parties:
                st = await p.state()
                assert st["phase"] == "in-call", (p.name, st["error"], p.problems)
            await asyncio.sleep(WARMUP)
            before = await figures(parties, carol)
            remotes_before = {p.name: (await p.state())["remotes"] for p in parties}
            await asyncio.sleep(WINDOW)
            for p in parties:
                st = await p.state()
                assert st["phase"] == "in-call", (p.name, st["error"], p.problems)
            after = await figures(parties, carol)
            # Carol (Python) decrypts what each browser's worker encrypted
            ratios = {}
            for key, (sent1, got1) in after.items():
                sent, got = sent1 - before[key][0], got1 - before[key][1]
                ratios[key] = (got, sent)
                assert sent > (50 if key[1] == "video" else 150), (key, sent)
                # (Carol decodes in the server's process: on a loaded machine she lags)
                assert got >= 0.8 * sent, f"{key}: carol decrypted {got} of {sent}"
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
            # the paths: every client reaches the SFU at the namespace's own address
            paths = {p.name: (await p.state())["path"] for p in parties}
            for name, path in paths.items():
                assert path["label"] == "via SFU", (name, path)
                assert path["remoteAddress"].startswith(f"{netns_address}:"), (name, path)
            assert carol.publish_pc is not None
            pair = dtls_transport(carol.publish_pc).transport._connection._nominated[1]
            assert pair.remote_candidate.host == netns_address, pair
            paths["carol"] = {"local": pair.local_candidate.host,
                              "remote": pair.remote_candidate.host}
            print(f"\n{ff.version}: first media after {first_media:.1f} s; carol decrypted "
                  f"(got, sent) over {WINDOW:.0f} s: {ratios}; browsers decoded (video "
                  f"frames, audio samples) {decoded}; paths {paths}; "
                  f"total {time.monotonic() - started:.1f} s")
        finally:
            await carol.close()


async def test_firefox_forced_bypass_sends_no_camera_or_microphone_frame(
        hotline: tuple[Server, dict[str, str]]) -> None:
    """test_web_send_proof's forced bypass, in Firefox: every transform assignment is
    ignored on Bob's page; the instrument (the tracks getUserMedia gave out, every track
    handed to a sender, frames and packets of outbound streams of those tracks) shows
    that none left; Alice (Firefox too, no bypass) is the positive control."""
    srv, enroll_codes = hotline
    async with firefox() as ff:
        print(await forced_bypass(ff, srv, enroll_codes))


@pytest_asyncio.fixture
async def linktest_server(tmp_path: Path, netns_address: str  # noqa: F811
                          ) -> AsyncIterator[Server]:
    async with running_server(tmp_path / "data", media_host=netns_address,
                              **LINKTESTS) as srv:
        yield srv


async def test_firefox_hotline_standby_link_test(linktest_server: Server,
                                                netns_address: str) -> None:  # noqa: F811
    """test_web_hotline's standby and link test with Firefox at one end: `ok` on both
    paths (via the SFU, and direct between Firefox and the Python end, which gathers on
    the namespace's address: Firefox takes no loopback candidate), both directions
    decrypted, shown on the page's dashboard, never the camera."""
    srv = linktest_server
    srv.store.add_party("washington")
    srv.store.add_party("moscow")
    code = srv.store.new_enrollment_code("washington")
    async with firefox() as ff:
        context = await ff.new_context()
        page = await context.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        card, moscow = await hotline_dashboard(srv, page, code)
        await page.evaluate(COUNT_GUM)  # from here on: no camera for a link test
        await card.get_by_role("button", name="Stand by here").click()
        await page.wait_for_function("() => window.hotlineApp.hotlines.standby.red === true")
        far = await standby(srv, moscow, media_host=netns_address)
        try:
            last = await linktest_ok(page, card)
            assert "group code" in await card.locator(".linktest-code").inner_text()
            await page.screenshot(path=str(Path(srv.store.data_dir) / "firefox-dashboard.png"),
                                  full_page=True)
        finally:
            await far.stop()
        assert not problems, problems
        print(f"\n{ff.version}: {last}")


async def test_firefox_without_script_transform_refuses_with_a_message(
        hotline: tuple[Server, dict[str, str]]) -> None:
    """A browser without RTCRtpScriptTransform (Firefox with its pref off) says what is
    missing and offers neither enrollment nor a call."""
    srv, enroll_codes = hotline
    async with firefox({"media.peerconnection.scripttransform.enabled": False}) as ff:
        context = await ff.new_context()
        page = await context.new_page()
        assert await page.evaluate("() => 'RTCRtpScriptTransform' in window") is False
        await page.goto(f"{srv.url}/#code={enroll_codes['alice']}")
        await page.wait_for_function("() => window.hotlineApp?.error")
        error = await page.locator("#error").inner_text()
        assert error.startswith("This browser cannot make end-to-end encrypted calls: it has "
                                "no RTCRtpScriptTransform"), error
        assert "Ed25519" not in error  # only what is missing is named
        assert await page.evaluate("() => window.hotlineApp.phase") not in ("rooms", "in-call")
        for view in ("enroll", "rooms", "prejoin", "call"):
            assert await page.evaluate(
                f"() => document.getElementById('{view}-view').hidden") is True, view
        assert "could not start" in await page.locator("#status").inner_text()
        # the enrollment code in the link was not used: it still enrolls a device
        srv.store.enroll(enroll_codes["alice"], Identity.generate().public_key)
