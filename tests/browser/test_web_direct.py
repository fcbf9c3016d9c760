"""The direct path in the call page (web/src/app/directpath.ts): two Chromium pages in a
room marked for direct connections (``set_room_direct``) open a direct RTCPeerConnection
beside their SFU connections and send their media on it, SFrame-encrypted with the same
keys and counters; when it dies they go back to the SFU within 10 s, without a rekey.

What is proved:

- both pages say ``#media-path`` "direct", and over a window of WINDOW s each decrypts
  the other's frames on the direct connection (the worker's counters of the direct
  receivers, bound to the far member) while the SFU forwards none of their media (its
  per-copy packet counters do not move: nothing was sent through it);
- the direct connection's UDP port pair is then blackholed (``ip rule ... ipproto udp
  sport/dport ... blackhole`` in the test's namespace): both pages show "via SFU" with a
  log line, the far end's frames are decrypted from the SFU again within 10 s (the audio
  gap, last direct frame to first SFU frame as seen in 100 ms polls, is reported), with
  the same group code (no rekey) and no E2EE failure; the offerer then replaces the dead
  direct connection by a new one (other ports) and both pages take the direct path back.

And a Chromium page and a Python client (``Call(direct=True)``) in such a room: both send
on their direct connection (the page's ``#media-path`` and ``Call.path`` say "direct"),
decrypt each other there with nothing through the SFU, and go back to the SFU together
when its port pair is blackholed.

And fail closed: a page whose direct senders' transforms are ignored (as Chromium does
with a late one; an init script makes the direct connection's senders drop the
assignment) never puts its camera or microphone on them (0 real frames sent on the
direct connection), and its call ends with the E2EE error.

Needs ``make web`` and the loopback-only namespace: ``scripts/in-loopback-netns.sh
.venv/bin/python -m pytest tests/browser/test_web_direct.py``.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from hotline.client.call import Call
from hotline.crypto.identity import Identity

from ..support.pathkiller import PathKiller, ip
from ..support.server import Server, running_server
from ..support.sfu_tap import Tap
from ..support.trust import accept_all
from ..support.wait import wait_until
from .callpage import REAL_SENT, ROOM, Page, enrolled, join
from .support import MEDIA_ARGS, browser_fixture, check_app_bundle

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("loopback_netns")]

WINDOW = 3.0
FAILOVER_LIMIT = 10.0
browser = browser_fixture(MEDIA_ARGS, check_app_bundle)


class PortKiller(PathKiller):
    """Blackhole rules for one UDP port pair on loopback (both directions)."""

    def kill_ports(self, a: int, b: int) -> None:
        for pref, (src, dst) in (("1", (a, b)), ("2", (b, a))):
            done = ip("rule", "add", "ipproto", "udp", "sport", str(src), "dport", str(dst),
                      "blackhole", "pref", pref)
            assert done.returncode == 0, done.stderr
        self.dead.add(f"udp {a}-{b}")


@pytest.fixture
def port_killer() -> Iterator[PortKiller]:
    killer = PortKiller()
    killer.setup()
    try:
        yield killer
    finally:
        killer.teardown()


@pytest_asyncio.fixture
async def direct_room(tmp_path: Path) -> AsyncIterator[tuple[Server, dict[str, str]]]:
    async with running_server(tmp_path / "data", join_timeout=5.0) as srv:
        codes = srv.room(ROOM, ["alice", "bob"])
        srv.store.set_room_direct(ROOM, True)
        yield srv, codes


@pytest.fixture
def tap(monkeypatch: pytest.MonkeyPatch) -> Tap:
    """Every RTP packet the SFU forwards (set before anyone joins)."""
    return Tap(monkeypatch)


def forwarded(tap: Tap, since: float = 0.0) -> int:
    """RTP packets the SFU forwarded (to anyone) since ``since`` (time.monotonic())."""
    return sum(1 for t, _, _ in tap.packets if t >= since)


STABLE_DIRECT = """() => {
  const s = window.hotlineApp.mediaPath, last = s.changes[s.changes.length - 1];
  return s.label === "direct" && last !== undefined && performance.now() - last.atMs > 4000;
}"""


async def settled_direct(pages: Any) -> None:
    """Every page on the direct path for 4 s (longer than the first delay before a direct
    connection that is no use is replaced: the choice has settled)."""
    for p in pages:
        try:
            await p.until(STABLE_DIRECT, 40)
        except Exception as e:
            raise AssertionError(f"{p.name} not settled on direct: {await path_state(p)}") from e


async def path_state(p: Page) -> dict[str, Any]:
    return (await p.state())["mediaPath"]  # type: ignore[no-any-return]


async def test_direct_call_and_failover_to_sfu(
        direct_room: tuple[Server, dict[str, str]], browser: Any, port_killer: PortKiller,
        tap: Tap) -> None:
    srv, codes = direct_room
    pages = {}
    for name in ("alice", "bob"):
        pages[name] = await enrolled(browser, srv.url, name, codes[name], console=True)
        await join(pages[name])
    alice, bob = pages["alice"], pages["bob"]

    async def both_direct() -> bool:
        for p in (alice, bob):
            s = await path_state(p)
            if s["label"] != "direct" or s["decrypted"]["direct"] < 30:
                return False
        return True

    try:
        await wait_until(both_direct, 40, "both pages sending and receiving direct")
    except AssertionError as e:
        raise AssertionError(f"{e}: alice {await alice.state()}, bob {await bob.state()}") from None
    await settled_direct(pages.values())
    pairs = (("alice", "bob"), ("bob", "alice"))
    first = {n: (await pages[n].remote(o))["framesDecoded"] for n, o in pairs}

    async def tiles_decode_direct() -> bool:  # the tiles show the direct receivers' video
        now = {n: (await pages[n].remote(o))["framesDecoded"] for n, o in pairs}
        return all(now[n] - first[n] >= 15 for n in now)

    await wait_until(tiles_decode_direct, 15, "the tiles decoding the direct video")
    code = (await alice.state())["code"]
    assert code is not None and code == (await bob.state())["code"]

    # A window on the direct path: the far end's frames decrypted there, nothing through the SFU.
    window_start = time.monotonic()
    before = {n: (await path_state(p))["decrypted"] for n, p in pages.items()}
    shown = {n: (await pages[n].remote(o))["framesDecoded"] for n, o in pairs}
    t0 = time.monotonic()
    while time.monotonic() - t0 < WINDOW:
        await alice.page.wait_for_timeout(200)
    after = {n: (await path_state(p))["decrypted"] for n, p in pages.items()}
    sfu_during = forwarded(tap, window_start)
    changes = {n: (await path_state(p))["changes"] for n, p in pages.items()}
    for n in pages:
        seen = (n, before[n], after[n], changes)
        assert after[n]["direct"] - before[n]["direct"] > 10 * WINDOW, seen
        assert after[n]["sfu"] == before[n]["sfu"], seen
        st = await pages[n].state()
        assert await pages[n].page.text_content("#media-path") == "direct"
        assert st["error"] is None and not st["worker"]["locked"], st
    assert sfu_during == 0, f"the SFU forwarded {sfu_during} packets while the pages were direct"
    # the tile shows the direct receiver's video: it decodes on
    for n, other in pairs:
        assert (await pages[n].remote(other))["framesDecoded"] - shown[n] > 5 * WINDOW

    # Kill the direct path: its UDP port pair, both ways.
    pair = (await path_state(alice))["directPair"]
    assert pair is not None and pair["protocol"] == "udp", pair
    local_port = int(pair["local"].rsplit(":", 1)[1])
    remote_port = int(pair["remote"].rsplit(":", 1)[1])
    last_direct = {n: (time.monotonic(), after[n]["direct"]) for n in pages}
    port_killer.kill_ports(local_port, remote_port)
    killed = time.monotonic()
    sfu_at_kill = {n: (await path_state(p))["decrypted"]["sfu"] for n, p in pages.items()}
    back: dict[str, float] = {}
    gap: dict[str, float] = {}
    while len(back) < 2 and time.monotonic() - killed < FAILOVER_LIMIT + 5:
        now = time.monotonic()
        for n, p in pages.items():
            d = (await path_state(p))["decrypted"]
            if d["direct"] > last_direct[n][1]:
                last_direct[n] = (now, d["direct"])
            if n not in back and d["sfu"] > sfu_at_kill[n]:
                back[n] = now - killed
                gap[n] = now - last_direct[n][0]
        await alice.page.wait_for_timeout(100)
    states = {n: await path_state(p) for n, p in pages.items()}
    assert len(back) == 2, f"media did not come back via the SFU: {states}"
    print(f"direct path killed: media back via the SFU after {back}, gap {gap}")
    for n, p in pages.items():
        assert back[n] <= FAILOVER_LIMIT, (n, back)
        await p.until("() => window.hotlineApp.mediaPath.label === 'via SFU'", 10)
        assert await p.page.text_content("#media-path") == "via SFU"
        log = await p.page.text_content("#media-path-log")
        assert log is not None and "now via SFU" in log, log
        st = await p.state()
        assert st["code"] == code, "a rekey happened"
        # the SFU's connections stayed up all along, unused (no media restart)
        assert st["media"]["restarts"] == 0 and st["media"]["publish"] == "connected", st["media"]
        assert st["error"] is None and not st["worker"]["locked"], st
    assert forwarded(tap, killed) > 0, "the SFU forwards again"
    # The offerer replaces the dead direct connection (3 s later; new ports, which the
    # rules do not block): both pages take the direct path back, same code.
    for p in pages.values():
        await p.until("() => window.hotlineApp.mediaPath.label === 'direct'", 30)
        log = await p.page.text_content("#media-path-log")
        assert log is not None and log.count("now direct") >= 1, log
        assert (await p.state())["code"] == code
    for p in pages.values():
        assert not p.problems, p.problems


def python_decrypted(call: Call, of: str) -> int:
    remote = call.stats().remote.get(of, {})
    return sum(int(remote.get(f"{k}_frames_decrypted", 0)) for k in ("video", "audio"))


def killed_ports(pair: dict[str, str]) -> tuple[int, int]:
    return int(pair["local"].rsplit(":", 1)[1]), int(pair["remote"].rsplit(":", 1)[1])


async def test_chromium_and_python_direct(
        direct_room: tuple[Server, dict[str, str]], browser: Any, port_killer: PortKiller,
        tap: Tap) -> None:
    srv, codes = direct_room
    alice = await enrolled(browser, srv.url, "alice", codes["alice"], console=True)
    await join(alice)
    bob = Call(srv.url, Identity.generate(), ROOM, video_size=(160, 120), direct=True,
               direct_addresses=["127.0.0.1"], trust_policy=accept_all())
    await bob.start(enroll_code=codes["bob"])
    try:
        async def both_direct() -> bool:
            s = await path_state(alice)
            return (s["label"] == "direct" and s["decrypted"]["direct"] >= 30
                    and bob.path == "direct")

        try:
            await wait_until(both_direct, 40, "the page and Python both direct")
        except AssertionError as e:
            raise AssertionError(f"{e}: page {await path_state(alice)}, python {bob.path} "
                                 f"{bob.path_changes} {bob.stats().as_json()}") from None
        await settled_direct([alice])
        code = (await alice.state())["code"]
        window_start = time.monotonic()
        page_before = (await path_state(alice))["decrypted"]
        py_before = python_decrypted(bob, "alice")
        t0 = time.monotonic()
        while time.monotonic() - t0 < WINDOW:
            await alice.page.wait_for_timeout(200)
        page_after = (await path_state(alice))["decrypted"]
        assert page_after["direct"] - page_before["direct"] > 10 * WINDOW, (page_before, page_after)
        assert page_after["sfu"] == page_before["sfu"], (page_before, page_after)
        assert python_decrypted(bob, "alice") - py_before > 10 * WINDOW
        assert forwarded(tap, window_start) == 0, "the SFU forwarded media while both were direct"
        assert bob.path == "direct" and await alice.page.text_content("#media-path") == "direct"

        pair = (await path_state(alice))["directPair"]
        assert pair is not None and pair["protocol"] == "udp", pair
        sfu_at_kill = page_after["sfu"]
        port_killer.kill_ports(*killed_ports(pair))
        killed = time.monotonic()

        async def back_via_sfu() -> bool:
            s = await path_state(alice)
            return s["label"] == "via SFU" and s["decrypted"]["sfu"] > sfu_at_kill \
                and bob.path == "via SFU"

        took = await wait_until(back_via_sfu, FAILOVER_LIMIT, "both back via the SFU")
        py_back = python_decrypted(bob, "alice")
        await wait_until(lambda: _more(bob, py_back), 5, "Python decrypting the page via the SFU")
        print(f"Chromium <-> Python: direct path killed, both via the SFU after {took:.2f} s "
              f"({time.monotonic() - killed:.2f} s with Python decrypting again)")
        st = await alice.state()
        assert st["code"] == code and st["error"] is None and not st["worker"]["locked"], st
        # the page (the offerer here: it joined first) makes a new direct connection,
        # Python takes it: both direct again
        await alice.until("() => window.hotlineApp.mediaPath.label === 'direct'", 30)
        await wait_until(lambda: _is(bob.path, "direct"), 10, "Python direct again")
        assert not alice.problems, alice.problems
    finally:
        await bob.close()


async def _is(value: str, expected: str) -> bool:
    return value == expected


async def _more(call: Call, than: int) -> bool:
    return python_decrypted(call, "alice") > than


#: The direct connection's senders (the page makes them with addTrack; its SFU senders
#: with addTransceiver) ignore their transform; what they send of the real camera and
#: microphone is counted.
DIRECT_BYPASS = """
(() => {
  const real = new Set(), pcs = [];
  const out = { realOnSender: 0, frames: 0, packets: 0, senders: 0 };
  const sent = out;
  window.__direct = out;
  const gum = MediaDevices.prototype.getUserMedia;
  MediaDevices.prototype.getUserMedia = async function (c) {
    const s = await gum.call(this, c);
    for (const t of s.getTracks()) real.add(t.id);
    return s;
  };
  const addTrack = RTCPeerConnection.prototype.addTrack;
  RTCPeerConnection.prototype.addTrack = function (t, ...streams) {
    if (!pcs.includes(this)) pcs.push(this);
    const sender = addTrack.call(this, t, ...streams);
    out.senders += 1;
    Object.defineProperty(sender, "transform",
                          { configurable: true, get() { return null; }, set(_) {} });
    const replace = sender.replaceTrack.bind(sender);
    sender.replaceTrack = (track) => {
      if (track && real.has(track.id)) out.realOnSender += 1;
      return replace(track);
    };
    return sender;
  };
""" + REAL_SENT + """})();
"""


async def test_direct_senders_without_their_transform_fail_closed(
        direct_room: tuple[Server, dict[str, str]], browser: Any) -> None:
    srv, codes = direct_room
    alice = await enrolled(browser, srv.url, "alice", codes["alice"], console=True)
    await join(alice)
    bob = await enrolled(browser, srv.url, "bob", codes["bob"], init=DIRECT_BYPASS)
    await join(bob)

    async def ended() -> bool:
        st = await bob.state()
        return st["phase"] != "in-call" and bool(st["error"])

    await wait_until(ended, 30, "bob's call ending on the E2EE error")
    st = await bob.state()
    assert "E2EE" in st["error"], st["error"]
    got = await bob.page.evaluate("() => window.__direct")
    assert got["senders"] == 2, got  # the direct connection was made
    assert got == {**got, "realOnSender": 0, "frames": 0, "packets": 0}, got
    # Alice decrypted nothing of bob on the direct connection (clear frames dropped)
    assert (await path_state(alice))["decrypted"]["direct"] == 0
    print(f"direct senders without their transform: bob's call ended ({st['error']}); "
          f"real frames on the direct connection {got}")
