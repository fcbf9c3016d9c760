"""The browser's media E2EE layer (web/src/media) in a real Chromium with real WebRTC.

The page web/test/media.html connects two RTCPeerConnections in one tab over loopback
ICE (no server), A sending Chromium's fake camera and microphone to B, each with its own
MediaE2EE (transform worker + getStats cross-check) and fixed test keys. What is proved:

- with the right key, B decodes A's video (framesDecoded > 30, a picture that is not
  blank and moves), every frame went through both transforms, nothing failed, and the
  transforms were really applied (B decodes only what its worker decrypted; A's wire
  frames are SFrame ciphertext that Python opens);
- with a wrong key, B decodes nothing and counts authentication failures;
- a sender transform attached after an await (Chromium ignores it silently, media flows in
  clear) is caught by the getStats cross-check as a fatal error; so is a receiver that has
  no transform at all; a receiver transform attached right after setRemoteDescription
  resolves is applied (Chromium 156);
- the receive path drops frames whose KID is not the bound stream's participant and kind
  (tests/vectors/kid-binding.json through the worker);
- interop: Python (hotline.crypto.frames.unprotect) opens the wire frames the browser
  sent, and the browser's receive path opens Python's (held while the key is missing,
  released when it comes, dropped after 0.5 s, tampered frames counted and dropped).

The bundles are built by ``make web``; the test fails if they are missing or stale. It
runs in the loopback-only namespace of ``make test``. ``HOTLINE_CHROMIUM`` overrides the
browser binary.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

import pytest

from hotline.crypto.frames import Codec, clear_length, frame_kid, protect, unprotect
from hotline.crypto.kid import Slot, make_kid
from hotline.crypto.sframe import SFrameContext, SFrameHeader, SFrameSender

from .support import CHROMIUM, MEDIA_ARGS, ROOT, WEB, serve_static

BUNDLES = [WEB / "dist" / "test" / "media.js", WEB / "dist" / "test" / "transform-worker.js",
           WEB / "dist" / "media" / "transform-worker.js"]
PAGE = "/web/test/media.html"
SERVED = ("/web/test/", "/web/dist/test/")

SUITE = 0x0004  # AES-128-GCM: a suite other than the default, to show it is passed through
PARTICIPANT = 7
GENERATION = 3
BASE_KEY = bytes.fromhex("0f1e2d3c4b5a69788796a5b4c3d2e1f0")
WRONG_KEY = bytes.fromhex("00" * 15 + "01")
KID_AUDIO = make_kid(PARTICIPANT, GENERATION, Slot.AUDIO)
KID_VIDEO = make_kid(PARTICIPANT, GENERATION, Slot.VIDEO)


def _check_bundles() -> None:
    for bundle in BUNDLES:
        if not bundle.exists():
            pytest.fail(f"{bundle.relative_to(ROOT)} is missing: run `make web`")
    oldest = min(b.stat().st_mtime for b in BUNDLES)
    sources = [p for d in ("src/media", "src/crypto", "test") for p in (WEB / d).rglob("*")
               if p.is_file() and (d != "test" or p.name.startswith("media."))]
    sources += [WEB / "package-lock.json", WEB / "package.json", WEB / "tsconfig.json"]
    newer = [p for p in sources if p.stat().st_mtime > oldest]
    if newer:
        pytest.fail(f"the media bundles are older than {newer[0].relative_to(ROOT)}: "
                    "run `make web`")


class MediaPage:
    """One browser for the module; a fresh page (tab) per call."""

    def __init__(self, browser: Any, base: str) -> None:
        self._browser = browser
        self._base = base

    def run(self, function: str, params: dict[str, Any], timeout_ms: int = 60_000) -> Any:
        context = self._browser.new_context()
        problems: list[str] = []
        try:
            page = context.new_page()
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}")
                    if m.type == "error" else None)
            page.goto(self._base + PAGE)
            page.wait_for_function("() => window.hotlineMedia?.ready === true", timeout=20_000)
            page.set_default_timeout(timeout_ms)
            result = page.evaluate(f"(p) => window.hotlineMedia.{function}(p)", params)
        finally:
            context.close()
        assert not problems, "\n".join(problems)
        return result


@pytest.fixture(scope="module")
def media_page() -> Iterator[MediaPage]:
    # The check of the `loopback_netns` fixture (function-scoped), for this module-scoped one.
    if [name for _, name in socket.if_nameindex()] != ["lo"]:
        pytest.fail("this test starts WebRTC in a browser and must run in a loopback-only network "
                    "namespace: run it through `make test`, or prefix the command with "
                    "scripts/in-loopback-netns.sh")
    _check_bundles()
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Python Playwright is missing: run `make setup` (it is a dev dependency)")
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install it or set HOTLINE_CHROMIUM")
    with serve_static(ROOT, SERVED) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=MEDIA_ARGS)
        try:
            yield MediaPage(browser, url)
        finally:
            browser.close()


def _call(media_page: MediaPage, **overrides: Any) -> dict[str, Any]:
    params: dict[str, Any] = {
        "cipherSuite": SUITE, "participantId": PARTICIPANT, "generation": GENERATION,
        "baseKey": BASE_KEY.hex(), "receiverKey": BASE_KEY.hex(), "targetFrames": 45,
        "timeoutMs": 20_000,
    }
    params.update(overrides)
    result: dict[str, Any] = media_page.run("call", params)
    return result


@pytest.fixture(scope="module")
def good_call(media_page: MediaPage) -> dict[str, Any]:
    """A -> B with the right key; A's sender transforms post back their first 40 frames."""
    return _call(media_page, capture=40)


def _transform(report: dict[str, Any], direction: str, kind: str) -> dict[str, Any]:
    found = [t for t in report["transforms"]
             if t["direction"] == direction and t["kind"] == kind]
    assert len(found) == 1, report
    return found[0]


def test_call_decodes_through_the_transforms(good_call: dict[str, Any]) -> None:
    r = good_call
    assert r["fatal"] == {"a": [], "b": []}
    assert r["framesDecoded"] > 30, r
    a, b = r["counters"]["a"], r["counters"]["b"]
    # Only Opus and VP8 were negotiated.
    assert set(r["mimeTypes"]) <= {"audio/opus", "video/VP8"}, r["mimeTypes"]
    for kind in ("audio", "video"):
        sent = _transform(a, "send", kind)
        got = _transform(b, "recv", kind)
        # Nothing failed (Chromium hands the odd empty Opus payload to the receiver:
        # dropped and counted as "empty", not a decryption failure).
        assert sent["failures"] == {}, sent
        empty = got["failures"].get("empty", 0)
        assert {k: v for k, v in got["failures"].items() if k != "empty"} == {}, got
        assert empty <= 3, got
        assert sent["framesOut"] == sent["framesIn"] > 0
        assert got["framesOut"] == got["framesIn"] - empty > 0
    # Every frame the encoder made went through A's transform, and B decoded no more
    # video frames than its worker decrypted: the transforms were applied.
    video_in = _transform(b, "recv", "video")
    assert r["framesDecoded"] <= video_in["framesOut"]
    assert r["framesEncoded"] <= _transform(a, "send", "video")["framesIn"] + 10
    # A real picture: not blank, and moving (the fake camera animates).
    pic = r["picture"]
    assert pic is not None and pic["width"] > 0, r
    assert pic["stddev"] > 10 and 10 < pic["mean"] < 245, pic
    assert pic["changed"] > 0.001, pic


def test_python_opens_the_browsers_wire_frames(good_call: dict[str, Any]) -> None:
    captured = good_call["captured"]
    video = [c for c in captured if c["kind"] == "video"]
    audio = [c for c in captured if c["kind"] == "audio"]
    assert len(video) >= 20 and len(audio) >= 20, (len(video), len(audio))
    ctx = SFrameContext(SUITE)
    ctx.add_decryption_key(KID_AUDIO, BASE_KEY)
    ctx.add_decryption_key(KID_VIDEO, BASE_KEY)
    key_frames = 0
    for c in video:
        wire = bytes.fromhex(c["wire"])
        assert frame_kid(Codec.VP8, wire) == KID_VIDEO
        frame = unprotect(ctx, Codec.VP8, wire)
        n = clear_length(Codec.VP8, frame)
        assert wire[:n] == frame[:n] and wire[n:] != frame[n:]
        assert len(wire) == len(frame) + SFrameHeader.decode(wire[n:]).size + ctx.tag_size
    for c in audio:
        wire = bytes.fromhex(c["wire"])
        assert frame_kid(Codec.OPUS, wire) == KID_AUDIO
        unprotect(ctx, Codec.OPUS, wire)
    for c in video:
        if c["frameType"] == "key":
            frame = unprotect_fresh(c["wire"], KID_VIDEO, Codec.VP8)
            assert frame[0] & 1 == 0 and frame[3:6] == b"\x9d\x01\x2a"  # VP8 key frame start code
            key_frames += 1
    assert key_frames >= 1
    assert video[0]["frameType"] == "key"


def unprotect_fresh(wire_hex: str, kid: int, codec: Codec) -> bytes:
    ctx = SFrameContext(SUITE)
    ctx.add_decryption_key(kid, BASE_KEY)
    return unprotect(ctx, codec, bytes.fromhex(wire_hex))


def test_wrong_key_decodes_nothing(media_page: MediaPage) -> None:
    r = _call(media_page, receiverKey=WRONG_KEY.hex(), targetFrames=10**9, timeoutMs=4000)
    assert r["framesDecoded"] == 0, r
    assert r["picture"] is None
    b = r["counters"]["b"]
    for kind in ("audio", "video"):
        got = _transform(b, "recv", kind)
        assert got["framesIn"] > 20, got
        assert got["framesOut"] == 0, got
        failed = got["failures"].get("auth_failed", 0) + got["failures"].get("empty", 0)
        assert failed == got["framesIn"] - got["held"], got
        assert got["failures"].get("auth_failed", 0) > 20, got
    # Nothing was bypassed: no fatal error on either side.
    assert r["fatal"] == {"a": [], "b": []}


def test_late_sender_transform_is_fatal(media_page: MediaPage) -> None:
    r = _call(media_page, lateVideoSender=True, untilFatal=True, timeoutMs=15_000)
    fatal = r["fatal"]["a"]
    assert len(fatal) == 1, r
    f = fatal[0]
    assert (f["reason"], f["direction"], f["kind"], f["stat"]) == (
        "bypass", "send", "video", "framesEncoded"), f
    assert f["statValue"] > f["transformed"] + 10
    # The audio transform (attached in the same task) did run; the video one never saw a frame.
    a = r["counters"]["a"]
    assert _transform(a, "send", "audio")["framesIn"] > 0
    assert _transform(a, "send", "video")["framesIn"] == 0
    assert a["locked"] is True
    # B decoded none of the clear-text video: its receive transform refused it.
    assert r["framesDecoded"] == 0
    assert r["fatal"]["b"] == []


def test_receivers_attached_after_set_remote_description(media_page: MediaPage) -> None:
    """Chromium 156 applies a receiver transform assigned right after
    `await setRemoteDescription` (not only in 'track'): B still decodes only what its
    worker decrypted."""
    r = _call(media_page, lateReceivers=True)
    assert r["fatal"] == {"a": [], "b": []}
    assert r["framesDecoded"] > 30, r
    video = _transform(r["counters"]["b"], "recv", "video")
    assert r["framesDecoded"] <= video["framesOut"] and video["failures"] == {}


def test_receiver_without_transform_is_fatal(media_page: MediaPage) -> None:
    """A guarded connection whose receivers have no transform at all: the first packets
    they take are fatal ("unprotected"), and B decodes nothing (SFrame ciphertext)."""
    r = _call(media_page, noReceivers=True, untilFatal=True, timeoutMs=15_000)
    fatal = r["fatal"]["b"]
    assert len(fatal) == 1, r
    assert fatal[0]["reason"] == "unprotected" and fatal[0]["direction"] == "recv", fatal
    assert r["counters"]["b"]["locked"] is True
    assert r["fatal"]["a"] == []


def test_browser_opens_pythons_wire_frames(media_page: MediaPage) -> None:
    """The browser's receive path on frames Python sealed: held while their key is
    missing, released when it comes, dropped when tampered with or when no key comes."""
    ctx = SFrameContext(SUITE)
    ctx.add_encryption_key(KID_VIDEO, BASE_KEY)
    ctx.add_encryption_key(KID_AUDIO, BASE_KEY)
    video_sender = SFrameSender(ctx, KID_VIDEO)
    audio_sender = SFrameSender(ctx, KID_AUDIO)
    rng = _Rng(1)
    # VP8-like: a key frame (bit 0 of byte 0 clear) every 5th, delta frames otherwise.
    video_frames = [bytes([0x10 if i % 5 == 0 else 0x31]) + rng.bytes(20 + 37 * i)
                    for i in range(10)]
    audio_frames = [bytes([0x78]) + rng.bytes(60 + i) for i in range(10)]
    video_wires = [protect(video_sender, Codec.VP8, f) for f in video_frames]
    audio_wires = [protect(audio_sender, Codec.OPUS, f) for f in audio_frames]
    tampered = bytearray(video_wires[9])
    tampered[-1] ^= 0x01  # the tag
    other_ctx = SFrameContext(SUITE)
    other_kid = make_kid(PARTICIPANT + 1, 0, Slot.VIDEO)
    other_ctx.add_encryption_key(other_kid, BASE_KEY)
    orphan = protect(SFrameSender(other_ctx, other_kid), Codec.VP8, video_frames[0])

    install = {"baseKey": BASE_KEY.hex()}
    steps = [
        {"kind": "video", "wires": [w.hex() for w in video_wires[:4]]},               # held
        {"kind": "video", "install": {**install, "kid": str(KID_VIDEO)}},              # released
        {"kind": "video", "wires": [w.hex() for w in video_wires[4:9]] + [bytes(tampered).hex()]},
        {"kind": "video", "wires": [orphan.hex()]},                                    # held
        {"kind": "video", "sleepMs": 700},                                             # expired
        {"kind": "audio", "install": {**install, "kid": str(KID_AUDIO)},
         "wires": [w.hex() for w in audio_wires]},
        {"kind": "audio", "wires": [audio_wires[3].hex()]},                            # replay
    ]
    results = media_page.run("inject", {"cipherSuite": SUITE, "steps": steps})

    def sha(frames: list[bytes]) -> list[str]:
        return sorted(hashlib.sha256(f).hexdigest() for f in frames)

    held, released, more, orphaned, expired, audio, replayed = results
    assert held["outputs"] == [] and held["counters"]["held"] == 4
    assert sorted(released["outputs"]) == sha(video_frames[:4])
    assert released["counters"]["held"] == 0
    assert sorted(more["outputs"]) == sha(video_frames[:9])
    assert more["counters"]["failures"] == {"auth_failed": 1}
    assert orphaned["counters"]["held"] == 1
    assert expired["counters"]["held"] == 0
    assert expired["counters"]["failures"] == {"auth_failed": 1, "unknown_kid": 1}
    assert expired["counters"]["framesOut"] == 9
    assert sorted(audio["outputs"]) == sha(audio_frames)
    assert replayed["counters"]["failures"] == {"replayed": 1}
    assert replayed["counters"]["framesOut"] == 10


class _Rng:
    """Deterministic bytes (no global random state)."""

    def __init__(self, seed: int) -> None:
        self._state = hashlib.sha256(seed.to_bytes(8, "big")).digest()

    def bytes(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            self._state = hashlib.sha256(self._state).digest()
            out += self._state
        return out[:n]



def test_worker_binds_frames_to_their_stream(media_page: MediaPage) -> None:
    """The conformance cases of tests/vectors/kid-binding.json through the worker's receive
    path (kid.ts streamKidVerdict in transform-worker.ts): for each case, a frame sealed by
    Python under the case's KID (its key installed) goes into a transform bound to the
    case's participant and kind. Accepted: it comes out; else it is counted under the
    case's verdict and nothing comes out."""
    cases = [c for c in json.loads((ROOT / "tests" / "vectors" / "kid-binding.json")
                                   .read_text())["cases"]
             if c["stream_kind"] in ("audio", "video")]
    ctx = SFrameContext(SUITE)
    senders: dict[int, SFrameSender] = {}
    steps = []
    for i, c in enumerate(cases):
        kid = int(c["kid"])
        if kid not in senders:
            ctx.add_encryption_key(kid, BASE_KEY)
            senders[kid] = SFrameSender(ctx, kid)
        codec = Codec.OPUS if c["stream_kind"] == "audio" else Codec.VP8
        frame = bytes([0x78 if codec is Codec.OPUS else 0x10]) + bytes([i]) * 40
        steps.append({"kind": c["stream_kind"], "participant": c["stream_participant"],
                      "install": {"kid": str(kid), "baseKey": BASE_KEY.hex()},
                      "wires": [protect(senders[kid], codec, frame).hex()]})
    results = media_page.run("inject", {"cipherSuite": SUITE, "steps": steps})
    expected: dict[tuple[str, int], tuple[int, dict[str, int]]] = {}
    for c, r in zip(cases, results, strict=True):
        key = (c["stream_kind"], c["stream_participant"])
        out, failures = expected.get(key, (0, {}))
        if c["verdict"] == "accept":
            out += 1
        else:
            failures = {**failures, c["verdict"]: failures.get(c["verdict"], 0) + 1}
        expected[key] = (out, failures)
        assert (len(r["outputs"]), r["counters"]["failures"]) == (out, failures), c["note"]
    assert sum(o for o, _ in expected.values()) == sum(c["verdict"] == "accept" for c in cases)
