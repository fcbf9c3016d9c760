"""The call page proves each sender's transform before a camera or microphone frame can
leave (issue #12, item 5; web/src/media/proof.ts), in real calls through the SFU with
Chromium's fake devices.

Every page here carries an instrument (init script): it records the ids of the tracks
getUserMedia gave out (the real camera and microphone), every track handed to an
RTCRtpSender (addTransceiver, addTrack, replaceTrack), and, polled every 0.1 s, the
frames encoded and packets sent by any outbound stream whose media source is a real track.

- forced bypass (every transform assignment ignored, as Chromium does when one comes too
  late): the page's senders run on placeholders only; figures asserted: real tracks ever
  on a sender 0, real-track frames encoded 0, packets sent 0; the call ends with the E2EE
  error; the other page decodes nothing of it;
- the normal call: the same instrument sees the real tracks sent (positive control) only
  after the proof, and the other side shows the camera picture; the times from "Join now"
  to the other side's first decoded frame, first picture shown and first camera picture
  shown are printed with the proof times (this test runs unchanged on the code before the
  proof, which attached the real tracks at once: the figures to compare).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from ..support.server import Server, running_server
from ..support.sfu_tap import Tap
from .callpage import NAMES, REAL_SENT, ROOM, Page, enrolled, join
from .support import MEDIA_ARGS, browser_fixture, check_app_bundle
from .test_web_controls import DISABLE_TRANSFORMS

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

INSTRUMENT = """
(() => {
  const real = new Set(), onSender = [], pcs = [];
  const sent = { frames: 0, packets: 0 };
  window.__media = { real, onSender, sent };
  const gum = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = async function (c) {
    const s = await gum.call(this, c);
    for (const t of s.getTracks()) real.add(t.id);
    return s;
  };
  const note = (pc, t) => {
    if (pc && !pcs.includes(pc)) pcs.push(pc);
    if (t && typeof t !== "string") onSender.push(t.id);
  };
  const addTransceiver = RTCPeerConnection.prototype.addTransceiver;
  RTCPeerConnection.prototype.addTransceiver = function (t, init) {
    note(this, t);
    return addTransceiver.call(this, t, init);
  };
  const addTrack = RTCPeerConnection.prototype.addTrack;
  RTCPeerConnection.prototype.addTrack = function (t, ...streams) {
    note(this, t);
    return addTrack.call(this, t, ...streams);
  };
  const replaceTrack = RTCRtpSender.prototype.replaceTrack;
  RTCRtpSender.prototype.replaceTrack = function (t) {
    note(null, t);
    return replaceTrack.call(this, t);
  };
""" + REAL_SENT + """})();
"""
MEDIA = ("() => ({ real: [...window.__media.real], onSender: window.__media.onSender,"
         " sent: window.__media.sent })")


browser = browser_fixture(MEDIA_ARGS, check_app_bundle)


@pytest_asyncio.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        yield srv, srv.room(ROOM, NAMES, {"alice": "principal"})


async def media(p: Page) -> dict[str, Any]:
    out: dict[str, Any] = await p.page.evaluate(MEDIA)
    out["real_on_sender"] = sorted(set(out["real"]) & set(out["onSender"]))
    return out


SHOWN_LUMA = """(name) => {
  const v = document.querySelector(`#tiles .tile[data-party="${name}"] video`);
  if (v === null || v.hidden || v.srcObject === null || v.videoWidth === 0) return -1;
  const c = document.createElement("canvas");
  c.width = 32;
  c.height = 24;
  const g = c.getContext("2d", { willReadFrequently: true });
  g.drawImage(v, 0, 0, 32, 24);
  const d = g.getImageData(0, 0, 32, 24).data;
  let sum = 0;
  for (let i = 0; i < d.length; i += 4) sum += 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
  return sum / (d.length / 4);
}"""


async def first_frames(watcher: Page, name: str, clicked: float,
                       timeout: float) -> dict[str, float]:
    """Seconds from ``clicked`` until ``watcher`` decoded a frame of ``name``, showed a
    picture of it, and showed a camera picture (luma above the dark placeholder's);
    polled every 20 ms."""
    out: dict[str, float] = {}
    while "camera_shown_s" not in out:
        now = time.monotonic() - clicked
        assert now < timeout, f"{watcher.name} did not show {name}'s camera: {out}"
        r = (await watcher.state())["remotes"].get(name, {})
        if r.get("framesDecoded", 0) > 0:
            out.setdefault("decoded_s", round(now, 3))
        luma = await watcher.page.evaluate(SHOWN_LUMA, name)
        if luma >= 0:
            out.setdefault("shown_s", round(now, 3))
        if luma > 40:  # the fake camera's picture; the placeholder's luma is about 16
            out["camera_shown_s"] = round(now, 3)
        await asyncio.sleep(0.02)
    return out


async def click_join(p: Page) -> float:
    await p.page.get_by_role("button", name=f"Join {ROOM}").click()
    await p.until("() => window.hotlineApp.prejoin.ready")
    clicked = time.monotonic()
    await p.page.get_by_role("button", name="Join now").click()
    return clicked


async def forced_bypass(browser: Any, srv: Server, codes: dict[str, str]) -> dict[str, Any]:
    """Bob's page ignores every transform assignment: his call must end with the E2EE
    error before any camera or microphone frame left; Alice (no bypass) is the positive
    control on the same instrument. Returns the figures (test_web_firefox runs it in
    Firefox)."""
    alice = await enrolled(browser, srv.url, "alice", codes["alice"], init=INSTRUMENT)
    await join(alice)
    bob = await enrolled(browser, srv.url, "bob", codes["bob"],
                         init=DISABLE_TRANSFORMS + INSTRUMENT)
    await click_join(bob)
    deadline = time.monotonic() + 30
    while True:
        st = await bob.state()
        if st["phase"] != "in-call" and st["error"]:
            break
        assert time.monotonic() < deadline, f"bob's call did not end: {st}"
        await asyncio.sleep(0.1)
    assert "E2EE failure" in st["error"], st["error"]
    got = await media(bob)
    assert len(got["real"]) == 2, got  # the fake camera and microphone were opened
    assert got["real_on_sender"] == [], got  # ... and never handed to a sender
    assert got["sent"] == {"frames": 0, "packets": 0}, got
    assert st["media"]["proofMs"] == {"audio": None, "video": None}, st["media"]
    assert (await alice.remote("bob")).get("framesDecoded", 0) == 0
    # Positive control on the same instrument: Alice's real tracks went out, after her proof.
    await alice.until("() => window.__media.sent.frames > 0")
    a = await media(alice)
    assert len(a["real_on_sender"]) == 2, a
    a_state = await alice.state()
    assert all(v is not None for v in a_state["media"]["proofMs"].values()), a_state["media"]
    assert a_state["phase"] == "in-call"
    return {"bob": {"real_sent": got["sent"], "error": st["error"]},
            "alice": {"real_sent": a["sent"], "proofMs": a_state["media"]["proofMs"]}}


async def test_forced_bypass_sends_no_camera_or_microphone_frame(
        hotline: tuple[Server, dict[str, str]], browser: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    tap = Tap(monkeypatch)
    srv, codes = hotline
    figures = await forced_bypass(browser, srv, codes)
    forwarded: dict[int, int] = {}
    for _, stream, _ in tap.packets:
        forwarded[stream.publisher] = forwarded.get(stream.publisher, 0) + 1
    print({**figures, "forwarded_packets_by_publisher": forwarded})


async def test_first_frame_after_the_proof(
        hotline: tuple[Server, dict[str, str]], browser: Any) -> None:
    srv, codes = hotline
    alice = await enrolled(browser, srv.url, "alice", codes["alice"], init=INSTRUMENT)
    await join(alice)
    bob = await enrolled(browser, srv.url, "bob", codes["bob"], init=INSTRUMENT)
    clicked = await click_join(bob)
    seconds = await first_frames(alice, "bob", clicked, 30)
    await bob.until("() => window.hotlineApp.phase === 'in-call'")
    b = await media(bob)
    b_state = await bob.state()
    proof = b_state["media"].get("proofMs")
    print({"from_join_now": seconds, "proofMs": proof,
           "real_sent": b["sent"]})
    if proof is not None:  # (this file also measures the code before the proof)
        assert all(v is not None for v in proof.values()), proof
        await bob.until("() => window.hotlineApp.media.proofMs.video !== null")
        assert len(b["real_on_sender"]) == 2
