"""The call page's controls and states in real calls through the SFU (Chromium, fake
camera and microphone, loopback-only namespace):

- the pre-join check shows the preview and a moving microphone level, lists the devices,
  and can join muted; roles show in the room list, the tiles and the participant list;
- mute, camera off/on and screen share reach the other side as what it receives (audio
  energy, decoded frames, frame size) and as marks on the tile and the list; a control is
  reachable and usable with the keyboard; the active speaker follows decoded audio;
- the "verified" mark is reset when the group code changes; the path and quality line;
- the call view fits a phone-width screen (no sideways scrolling, every control visible);
- failures are explained: camera permission refused (Join stays disabled), not a member
  (any more), the server unreachable and back (the room list returns by itself);
- a participant whose transforms are disabled (a forced bypass) has its call ended with
  an error and never shows undecrypted video; one whose keys are wrong shows no remote
  video and reports "cannot decrypt", while the others still decode it.

One file (over 400 lines) on purpose: each test is one real call with browsers, and
the page set-up they share is in callpage.py.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from ..support.server import Server, running_server, start_server
from ..support.trust import accept_all
from ..support.wait import wait_until
from .callpage import NAMES, ROOM, Page, enrolled, join
from .support import MEDIA_ARGS, browser_fixture, check_app_bundle, chromium

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

#: Chromium's fake screen capture is 1280x720 here; the fake camera is asked for 320x240.
SCREEN_ARGS = [*MEDIA_ARGS, "--auto-select-desktop-capture-source=Entire screen"]

DISABLE_TRANSFORMS = """
for (const proto of [RTCRtpSender.prototype, RTCRtpReceiver.prototype]) {
  Object.defineProperty(proto, "transform",
                        { configurable: true, get() { return null; }, set(_) {} });
}"""
WRONG_KEYS = """
const post = Worker.prototype.postMessage;
Worker.prototype.postMessage = function (message, transfer) {
  if (message && message.type === "install" && message.baseKey instanceof Uint8Array) {
    message.baseKey[0] ^= 0xff;
  }
  return post.call(this, message, transfer);
};"""


browser = browser_fixture(SCREEN_ARGS, check_app_bundle)


@pytest_asyncio.fixture
async def hotline(tmp_path: Path) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        yield srv, srv.room(ROOM, NAMES, {"alice": "principal", "carol": "interpreter"})


async def growth(p: Page, name: str, field: str, seconds: float) -> float:
    """How much ``remotes[name][field]`` grows on ``p`` over ``seconds``."""
    before = (await p.remote(name))[field]
    await asyncio.sleep(seconds)
    return float((await p.remote(name))[field] - before)


async def decodes(p: Page, name: str, minimum: int = 20, timeout: float = 30) -> None:
    async def ok() -> bool:
        r = await p.remote(name)
        return r.get("framesDecoded", 0) > minimum and r.get("keys") == "ok"
    await wait_until(ok, timeout, f"{p.name} decoding {name}")


async def two_in_a_call(srv: Server, codes: dict[str, str], browser: Any) -> tuple[Page, Page]:
    """Alice and Bob enrolled, joined, and decoding each other."""
    alice = await enrolled(browser, srv.url, "alice", codes["alice"])
    bob = await enrolled(browser, srv.url, "bob", codes["bob"])
    await join(alice)
    await join(bob)
    await decodes(bob, "alice")
    await decodes(alice, "bob")
    return alice, bob


async def restart(srv: Server, data: Path,
                  while_down: Callable[[], Awaitable[None]] | None = None) -> None:
    """Stop the server, run ``while_down``, and start it again on the same port and data
    directory; ``srv`` then holds the new one (the fixture ends it)."""
    port = int(srv.url.rsplit(":", 1)[1])
    await srv.close()
    if while_down is not None:
        await while_down()
    again = await start_server(data, port=port, join_timeout=5.0)
    srv.store, srv.app, srv.runner = again.store, again.app, again.runner


async def test_controls_roster_speaker_and_phone_width(
        hotline: tuple[Server, dict[str, str]], browser: Any, tmp_path: Path) -> None:
    srv, codes = hotline
    alice = await enrolled(browser, srv.url, "alice", codes["alice"])
    assert await alice.page.locator("#rooms li").inner_text() == f"Join {ROOM} as principal"

    # -- the pre-join check: preview, a microphone level that moves, devices ----------------
    await alice.page.get_by_role("button", name=f"Join {ROOM}").click()
    await alice.until("() => window.hotlineApp.prejoin.ready"
                      " && window.hotlineApp.prejoin.maxLevel > 0.01")
    pre = (await alice.state())["prejoin"]
    assert pre["cameras"] >= 1 and pre["microphones"] >= 1 and pre["problem"] is None
    assert await alice.page.locator("#preview").evaluate(
        "v => v.srcObject !== null && v.srcObject.getVideoTracks().length === 1")
    await alice.page.screenshot(path=str(tmp_path / "prejoin.png"))
    await alice.page.get_by_role("button", name="Join now").click()
    await alice.until("() => window.hotlineApp.phase === 'in-call'", 30)

    bob = await enrolled(browser, srv.url, "bob", codes["bob"])
    await join(bob, muted=True)
    await decodes(alice, "bob")
    await decodes(bob, "alice")

    # -- roles and states on the tiles and the participant list ---------------------------
    await alice.until("() => window.hotlineApp.remotes.bob"
                      " && !window.hotlineApp.remotes.bob.audio")
    roster = await alice.page.locator("#participants li").all_inner_texts()
    assert roster[0].startswith("alice (you) principal"), roster
    assert roster[1].startswith("bob delegate") and "muted" in roster[1], roster
    assert "bob · delegate" in await alice.page.locator("#tiles .tile figcaption").inner_text()
    assert await alice.page.locator("#participant-count").inner_text() == "2"
    assert await growth(alice, "bob", "audioEnergy", 1.5) < 1e-4  # bob joined muted

    # -- the active speaker: Alice's fake microphone beeps, Bob is muted -------------------
    await bob.until("() => window.hotlineApp.activeSpeaker === 'alice'")
    assert await bob.page.locator('#tiles .tile[data-party="alice"]').evaluate(
        "t => t.classList.contains('speaking')")
    assert "Speaking: alice" in await bob.page.locator("#speaking").inner_text()

    # -- Bob unmutes with the keyboard alone: Tab to the button, then Enter ----------------
    for _ in range(40):
        if await bob.page.evaluate("() => document.activeElement?.id") == "mute-button":
            break
        await bob.page.keyboard.press("Tab")
    else:
        raise AssertionError("the mute button is not reachable with Tab")
    await bob.page.keyboard.press("Enter")
    await alice.until("() => window.hotlineApp.remotes.bob.audio")
    assert await growth(alice, "bob", "audioEnergy", 2.0) > 1e-3
    mute = bob.page.get_by_role("button", name="Mute")
    assert await mute.get_attribute("aria-pressed") == "false"

    # -- Alice mutes: Bob hears (decodes) silence from her --------------------------------
    speaking = await growth(bob, "alice", "audioEnergy", 2.0)
    await alice.page.get_by_role("button", name="Mute").click()
    await bob.until("() => !window.hotlineApp.remotes.alice.audio")
    await asyncio.sleep(1.5)  # what was already on its way or in Bob's jitter buffer
    muted = await growth(bob, "alice", "audioEnergy", 2.0)
    assert speaking > 1e-3 and muted < 0.05 * speaking, (speaking, muted)
    await alice.page.get_by_role("button", name="Unmute").click()

    # -- camera off: no frames, a mark; camera on: frames again ----------------------------
    await alice.page.get_by_role("button", name="Camera off").click()
    await bob.until("() => !window.hotlineApp.remotes.alice.video")
    await asyncio.sleep(0.5)
    assert await growth(bob, "alice", "framesDecoded", 2.0) <= 2
    overlay = bob.page.locator('#tiles .tile[data-party="alice"] .waiting')
    assert await overlay.inner_text() == "camera off"
    assert await alice.page.locator("#self-off").is_visible()
    await alice.page.get_by_role("button", name="Camera on").click()
    await bob.until("() => window.hotlineApp.remotes.alice.video")
    await wait_until(lambda: _grew(bob, "alice", "framesDecoded", 20, 1.0), 10,
                     "alice's video again")

    # -- screen share: Bob receives 1280-wide frames, then the camera again ----------------
    await alice.page.get_by_role("button", name="Share screen").click()
    await bob.until("() => window.hotlineApp.remotes.alice.screen")
    await bob.until("() => window.hotlineApp.remotes.alice.frameWidth >= 1000", 15)
    roster = await bob.page.locator("#participants li").all_inner_texts()
    assert "sharing screen" in " ".join(roster), roster
    await alice.page.get_by_role("button", name="Stop sharing").click()
    await bob.until("() => !window.hotlineApp.remotes.alice.screen")
    await bob.until("() => window.hotlineApp.remotes.alice.frameWidth <= 400", 15)

    # -- path and quality ------------------------------------------------------------------
    st = await alice.state()
    assert st["path"]["label"] == "via SFU" and st["path"]["localType"] == "host", st["path"]
    assert st["path"]["changes"] == 0, st["path"]  # one path all along: no false alarm
    assert st["quality"]["grade"] in ("good", "fair") and st["quality"]["rttMs"] is not None
    assert (await alice.page.locator("#quality").inner_text()).startswith("Connection: ")
    await alice.page.get_by_text("encrypted · via SFU").wait_for()

    # -- "verified" is reset when the code changes (Carol joins) ---------------------------
    await alice.page.get_by_role("button", name="Mark as verified").click()
    assert (await alice.state())["verified"] is True
    old_code = (await alice.state())["code"]["digits"]
    carol = Call(srv.url, Identity.generate(), ROOM, trust_policy=accept_all())
    await carol.start(enroll_code=codes["carol"])
    try:
        await alice.until("() => window.hotlineApp.code !== null && "  # null while pending
                          f"window.hotlineApp.code.digits !== '{old_code}'")
        st = await alice.state()
        assert st["verified"] is False
        assert "changed" in await alice.page.locator("#verify-state").inner_text()
        assert st["remotes"]["carol"]["role"] == "interpreter"
        await alice.page.screenshot(path=str(tmp_path / "call-desktop.png"), full_page=True)

        # -- a phone-width screen: nothing scrolls sideways, every control is on screen ----
        await alice.page.set_viewport_size({"width": 390, "height": 844})
        await asyncio.sleep(0.3)
        width = await alice.page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the call view is {width} px wide on a 390 px screen"
        for name in ("Mute", "Camera off", "Share screen", "Leave", "Mark as verified"):
            box = await alice.page.get_by_role("button", name=name).bounding_box()
            assert box is not None and 0 <= box["x"] <= 390 - box["width"], (name, box)
        await alice.page.screenshot(path=str(tmp_path / "call-phone.png"), full_page=True)
    finally:
        await carol.close()
    for p in (alice, bob):
        assert not p.problems, p.problems


async def _grew(p: Page, name: str, field: str, by: int, seconds: float) -> bool:
    return await growth(p, name, field, seconds) >= by


async def test_failures_are_explained(hotline: tuple[Server, dict[str, str]], browser: Any,
                                      tmp_path: Path) -> None:
    srv, codes = hotline
    # -- camera and microphone permission refused: said so, Join stays disabled -----------
    no_fake_ui = [a for a in MEDIA_ARGS if a != "--use-fake-ui-for-media-stream"]
    async with chromium(no_fake_ui, check_app_bundle) as refusing:
        carol = await enrolled(refusing, srv.url, "carol", codes["carol"])
        await carol.page.get_by_role("button", name=f"Join {ROOM}").click()
        problem = carol.page.locator("#prejoin-problem")
        await problem.wait_for(timeout=15_000)
        assert "access was refused" in await problem.inner_text()
        assert await carol.page.get_by_role("button", name="Join now").is_disabled()
        assert await carol.page.get_by_role("button", name="Try again").is_visible()
        await carol.page.get_by_role("button", name="Cancel").click()
        await carol.until("() => window.hotlineApp.phase === 'rooms'")

    # -- not a member any more: the join is refused with a sentence, the list refreshed ----
    bob = await enrolled(browser, srv.url, "bob", codes["bob"])
    srv.store.set_member(ROOM, "bob", None)
    await bob.page.get_by_role("button", name=f"Join {ROOM}").click()
    await bob.until("() => window.hotlineApp.prejoin.ready")
    await bob.page.get_by_role("button", name="Join now").click()
    await bob.until("() => window.hotlineApp.phase === 'rooms'"
                    " && window.hotlineApp.error !== null")
    st = await bob.state()
    assert f"not a member of {ROOM}" in st["error"] and st["rooms"] == [], st["error"]
    assert await bob.page.get_by_text("You are not a member of any room yet.").is_visible()
    srv.store.set_member(ROOM, "bob", "delegate")

    # -- the server goes away and comes back: the page says so and recovers by itself -----
    async def says_unreachable() -> None:
        await bob.until("() => (window.hotlineApp.error || '').includes('unreachable')")
        assert "Trying again" in await bob.page.locator("#status").inner_text()

    await restart(srv, tmp_path / "data", says_unreachable)
    await bob.until("() => window.hotlineApp.phase === 'rooms'"
                    " && window.hotlineApp.error === null", 30)
    st = await bob.state()
    assert st["rooms"] == [ROOM] and st["reconnects"] == 0


async def test_forced_bypass_ends_the_call_and_wrong_keys_show_no_video(
        hotline: tuple[Server, dict[str, str]], browser: Any) -> None:
    srv, codes = hotline
    alice = await enrolled(browser, srv.url, "alice", codes["alice"])
    carol = await enrolled(browser, srv.url, "carol", codes["carol"], init=WRONG_KEYS)
    await join(alice)
    await join(carol)
    # Carol's keys are wrong: she decodes nobody and says why; Alice decodes Carol
    await decodes(alice, "carol")
    await carol.until("() => (window.hotlineApp.remotes.alice || {}).keys === 'failing'")
    await carol.until("() => window.hotlineApp.problems.length > 0")
    assert "fail to decrypt" in await carol.page.locator("#problems").inner_text()
    overlay = carol.page.locator('#tiles .tile[data-party="alice"] .waiting')
    assert "cannot decrypt" in await overlay.inner_text()
    assert not await carol.page.locator('#tiles .tile[data-party="alice"] video').is_visible()

    # Bob's transforms are disabled (forced bypass): his call ends with an error, and
    # nothing undecrypted is ever shown, on his page or anyone's
    bob = await enrolled(browser, srv.url, "bob", codes["bob"], init=DISABLE_TRANSFORMS)
    await bob.page.get_by_role("button", name=f"Join {ROOM}").click()
    await bob.until("() => window.hotlineApp.prejoin.ready")
    await bob.page.get_by_role("button", name="Join now").click()
    shown = 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        shown += await bob.page.evaluate(
            "() => [...document.querySelectorAll('#tiles video')].filter(v => !v.hidden).length")
        st = await bob.state()
        if st["phase"] == "rooms" and st["error"]:
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"bob's call did not end: {await bob.state()}")
    assert "E2EE failure" in st["error"], st["error"]
    assert shown == 0, "bob's page showed video that did not go through the transforms"
    assert await bob.page.locator("#error").is_visible()
    assert (await alice.remote("bob")).get("framesDecoded", 0) == 0
    assert (await carol.remote("alice"))["framesDecoded"] == 0
    assert (await alice.state())["phase"] == "in-call"


async def test_listen_only_role(hotline: tuple[Server, dict[str, str]], browser: Any) -> None:
    """An aide joins without the pre-join check and publishes nothing, receives and
    decrypts the others, and is shown to them as listening only."""
    srv, codes = hotline
    srv.store.set_member(ROOM, "carol", "aide")
    alice = await enrolled(browser, srv.url, "alice", codes["alice"])
    carol = await enrolled(browser, srv.url, "carol", codes["carol"])
    assert "as aide (listens)" in await carol.page.locator("#rooms li").inner_text()
    await join(alice)
    await carol.page.get_by_role("button", name=f"Join {ROOM}").click()
    await carol.until("() => window.hotlineApp.phase === 'in-call'", 30)
    st = await carol.state()
    assert st["prejoin"]["ready"] is False and st["role"] == "aide"
    assert st["local"] == {"audio": False, "video": False, "screen": False}
    for control in ("#mute-button", "#camera-button", "#screen-button"):
        assert not await carol.page.locator(control).is_visible()
    assert await carol.page.get_by_role("button", name="Leave").is_visible()
    await decodes(carol, "alice")
    assert "listening only" in await carol.page.locator("#status").inner_text()
    await alice.until("() => (window.hotlineApp.remotes.carol || {}).role === 'aide'")
    line = alice.page.locator("#participants li", has_text="carol")
    assert "listens only" in await line.inner_text()
    assert (await alice.remote("carol"))["framesReceived"] == 0
    counters = await carol.page.evaluate("() => window.hotlineAppCounters()")
    assert "send/video" not in counters["totals"] and "send/audio" not in counters["totals"]


async def test_broken_signaling_is_resumed_and_media_goes_on(
        hotline: tuple[Server, dict[str, str]], browser: Any) -> None:
    """The server side of Alice's WebSocket is cut mid-call: her page reconnects and
    takes her seat back; Bob decodes her all along, nobody appears twice, and signaling
    works again afterwards (a mute reaches Bob)."""
    from hotline.server.app import STATE
    srv, codes = hotline
    alice, bob = await two_in_a_call(srv, codes, browser)
    live = srv.app[STATE].rooms.find(ROOM)
    assert live is not None
    seat = next(s for s in live._seats.values() if s.session.party == "alice")
    seat.session.ws._req.transport.abort()  # type: ignore[attr-defined]
    await alice.until("() => window.hotlineApp.signaling === 'reconnecting'", 5)
    assert await growth(bob, "alice", "framesDecoded", 1.0) > 10  # media goes on
    await alice.until("() => window.hotlineApp.resumes === 1", 15)
    st = await alice.state()
    assert st["phase"] == "in-call" and st["error"] is None
    assert "Reconnected" in await alice.page.locator("#call-notice").inner_text()
    assert sorted(live.participants.values()) == ["alice", "bob"]
    assert list((await bob.state())["remotes"]) == ["alice"]
    await alice.page.get_by_role("button", name="Mute").click()
    await bob.until("() => !window.hotlineApp.remotes.alice.audio")
    assert await growth(bob, "alice", "framesDecoded", 1.0) > 10


async def test_pages_join_again_after_a_server_restart(
        hotline: tuple[Server, dict[str, str]], browser: Any, tmp_path: Path) -> None:
    """The server stops mid-call and starts again on the same port and data: both pages
    say so, wait, and join the room again by themselves (same devices, new keys)."""
    srv, codes = hotline
    alice, bob = await two_in_a_call(srv, codes, browser)
    old_code = (await alice.state())["code"]["digits"]
    async def call_cut() -> None:
        await alice.until("() => window.hotlineApp.phase !== 'in-call'", 20)
        await asyncio.sleep(1.0)

    await restart(srv, tmp_path / "data", call_cut)
    for p in (alice, bob):
        await p.until("() => window.hotlineApp.phase === 'in-call'"
                      " && window.hotlineApp.calls === 2", 40)
    await decodes(bob, "alice", timeout=30)
    await decodes(alice, "bob", timeout=30)
    st = await alice.state()
    assert st["error"] is None and st["code"]["digits"] != old_code
    assert st["code"]["digits"] == (await bob.state())["code"]["digits"]


def cut_media_path(participant: Any) -> None:
    """The SFU side of a participant's media path goes dead, as if its network had: every
    datagram from it is dropped and nothing is sent to it, on both of its connections."""
    from hotline.rtc import aiortc_adapter as adapter
    for pc in (participant.publish_pc, participant.subscribe_pc):
        conn = adapter.dtls_transport(pc).transport._connection
        for proto in conn._protocols:
            proto.datagram_received = lambda data, addr: None
            if proto.transport is not None:
                proto.transport.sendto = lambda *args, **kwargs: None
    for path in (participant.publish_path, participant.subscribe_path):
        path._sendto = lambda *args: None


async def test_lost_media_path_is_restarted_in_the_same_seat(
        hotline: tuple[Server, dict[str, str]], browser: Any) -> None:
    """Alice's media path dies mid-call: her page notices (its connections go
    disconnected), says "Network changed: reconnecting media…", asks for a media restart
    and gets new connections; both decode each other again, in the same seat (same
    participant id, nobody twice) and with the same keys (same group code, no rekey)."""
    from hotline.server.app import STATE
    srv, codes = hotline
    alice, bob = await two_in_a_call(srv, codes, browser)
    sfu = srv.app[STATE].sfu
    before = await alice.state()
    pid, code = before["participantId"], before["code"]["digits"]
    old = sfu.participants(ROOM)[pid]
    start = time.monotonic()
    cut_media_path(old)
    await alice.until("() => document.getElementById('call-notice').textContent"
                      ".includes('reconnecting media')", 15)
    noticed = time.monotonic() - start
    assert "reconnecting media" in await alice.page.locator("#protection").inner_text()
    await alice.until("() => window.hotlineApp.media.lastRestartMs !== null", 15)
    st = await alice.state()
    assert st["media"]["restarts"] >= 1 and not st["media"]["restarting"]
    assert "Media reconnected" in await alice.page.locator("#call-notice").inner_text()
    # the new connection's path is shown as a path change (the SFU's port is new)
    await alice.until("() => window.hotlineApp.path.changes >= 1"
                      " && document.getElementById('call-notice').textContent"
                      ".includes('network path changed')", 10)
    assert "Media reconnected" in await alice.page.locator("#call-notice").inner_text()

    async def flowing(p: Page, name: str) -> bool:
        return await growth(p, name, "framesDecoded", 1.0) > 10

    await wait_until(lambda: flowing(bob, "alice"), 10, "Bob decoding Alice again")
    await wait_until(lambda: flowing(alice, "bob"), 10, "Alice decoding Bob again")
    took = time.monotonic() - start
    await alice.until("() => document.getElementById('protection').textContent"
                      ".includes('via SFU')", 5)
    st = await alice.state()
    assert st["phase"] == "in-call" and st["error"] is None and st["participantId"] == pid
    assert st["code"]["digits"] == code == (await bob.state())["code"]["digits"]
    assert (await bob.remote("alice"))["keys"] == "ok"
    live = srv.app[STATE].rooms.find(ROOM)
    assert live is not None and sorted(live.participants.values()) == ["alice", "bob"]
    assert list((await bob.state())["remotes"]) == ["alice"]
    assert sfu.participants(ROOM)[pid] is not old and old.closed
    assert not alice.problems and not bob.problems
    print(f"\nbrowser: path loss noticed after {noticed:.1f} s; media restarted in "
          f"{st['media']['lastRestartMs'] / 1000:.2f} s; both decoding again "
          f"{took:.1f} s after the cut")
