"""One end of a link test: an E2EE call with the synthetic pattern, measured.

The server sends ``linktest_start``; :func:`take_part` joins the test's room on a
connection of its own (same identity), sends the synthetic test pattern and tone
(:class:`~hotline.client.synthetic.PatternTrack`: never a camera or microphone) for
the test's duration, leaves, and returns the figures for ``linktest_report``:

* ``setup_ms``: from the start of the test to our media connection connected;
* ``first_frame_ms``: from the start to the first frame of the far end we decrypted;
* frames of the far end decrypted per kind, and frames that failed to decrypt;
* ``rtt_ms``: round trip from RTCP: between us and the SFU on the ``sfu`` and ``relay``
  paths (the path's round trip is the sum of both ends' figures), between the two ends
  on the ``direct`` path;
* ``loss`` and ``jitter_ms``: of the far end's packets as we received them (RTP);
* ``group_code``: the code we computed; the server checks both ends show the same.

:func:`take_part` also returns the identity key of the far end it saw (the one other
verified member of the call), which the end's signed report names
(:mod:`hotline.crypto.linkreport`).

The far end's key must be pinned on this device for the hotline (``trust``, the
hotline's strict :class:`~hotline.client.trustpolicy.TrustPolicy`): any other key is
refused before anything is sealed to it, and the test fails with the reason in ``error``.

The test's ``path`` says how the media goes: ``sfu`` to the SFU without TURN, ``relay``
to the SFU through TURN only, ``direct`` on a direct connection between the two ends
only (nothing published to the SFU: :class:`~hotline.client.paths.CallPaths`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

from aiortc import RTCPeerConnection

from hotline.client.call import Call
from hotline.client.callstats import RemoteStream
from hotline.client.trustpolicy import TrustPolicy, UntrustedKey
from hotline.crypto.identity import Identity
from hotline.crypto.linkreport import NO_KEY
from hotline.errors import ProtocolError
from hotline.logtext import safe
from hotline.signaling import messages as m
from hotline.signaling.hotline_rooms import check_hotline_room

log = logging.getLogger("hotline.linktest")
CLOCK_RATE = {"audio": 48000, "video": 90000}
SETUP_TIMEOUT = 15.0
VIDEO_SIZE = (160, 120)  # the pattern only has to be recognisable, not pretty


async def _stats(pc: RTCPeerConnection | None) -> list[Any]:
    if pc is None:
        return []
    with contextlib.suppress(Exception):
        return list((await pc.getStats()).values())
    return []


async def _code_with_far_end(call: Call, deadline: float) -> tuple[str, bytes]:
    """The group code once a frame of the far end decrypted (both ends are in the call
    then, so both compute the code of the same two-member group), "" if none by
    ``deadline``; read later, it could already be the code after the far end left. And
    the far end's key as seen while it was in the call (with or without media: a test
    whose media did not flow still names who was at the other end)."""
    loop = asyncio.get_running_loop()
    seen = NO_KEY
    while loop.time() < deadline:
        if call.signaling.pin_failure is not None:
            raise call.signaling.pin_failure
        seen = far_key(call) if seen == NO_KEY else seen
        code = call.signaling.code
        if code is not None and any(s.first_frame_at is not None for s in _streams(call)):
            return code.digits, far_key(call)
        await asyncio.sleep(0.05)
    return "", seen


def _streams(call: Call) -> list[RemoteStream]:
    """What we receive: through the SFU, and on the direct connection if there is one."""
    return [*call.streams.values(), *(call.paths.streams() if call.paths is not None else ())]


async def _path_figures(call: Call, started: float) -> tuple[float | None, ...]:
    """(setup_ms, rtt_ms, loss, jitter_ms) of the path the call's media took: the direct
    connection's in a direct-only call, else the SFU connections'."""
    link = call.paths.link if call.paths is not None else None
    if call.paths is not None and call.paths.direct_only:
        figures = await call.direct_figures() or {}
        connected = link.connected_at if link is not None else None
        return (round((connected - started) * 1000, 1) if connected is not None else None,
                figures.get("rtt_ms"), figures.get("loss"), figures.get("jitter_ms"))
    inbound = [s for s in await _stats(call.subscribe_pc) if s.type == "inbound-rtp"]
    received = sum(s.packetsReceived for s in inbound)
    lost = sum(max(0, s.packetsLost) for s in inbound)
    jitters = [s.jitter / CLOCK_RATE.get(s.kind, 90000) * 1000 for s in inbound]
    rtts = [s.roundTripTime * 1000 for s in await _stats(call.publish_pc)
            if s.type == "remote-inbound-rtp" and s.roundTripTime is not None]
    return (round((call.setup_at - started) * 1000, 1) if call.setup_at else None,
            round(max(rtts), 2) if rtts else None,
            round(lost / (lost + received), 4) if received + lost else None,
            round(max(jitters), 2) if jitters else None)


async def measure(call: Call, started: float, group_code: str) -> m.LinkTestFigures:
    """The figures of ``call`` so far (see the module docstring)."""
    stats = call.stats()
    far = [r for party, r in stats.remote.items() if party != call.signaling.party]
    remote = far[0] if far else None
    first = None
    for s in _streams(call):
        if s.first_frame_at is not None:
            at = (s.first_frame_at - started) * 1000
            first = at if first is None else min(first, at)
    setup, rtt, loss, jitter = await _path_figures(call, started)
    return m.LinkTestFigures(
        joined=call.signaling.participant_id is not None, setup_ms=setup,
        first_frame_ms=round(first, 1) if first is not None else None,
        video_frames=remote["video_frames_decrypted"] if remote else 0,
        audio_frames=remote["audio_frames_decrypted"] if remote else 0,
        decrypt_failures=remote["decrypt_failures"] if remote else 0,
        rtt_ms=rtt, loss=loss, jitter_ms=jitter, group_code=group_code)


def far_key(call: Call) -> bytes:
    """The identity key of the one other verified member (NO_KEY if there is not one)."""
    sig = call.signaling
    peers = sig.schedule.members if sig.schedule is not None else ()
    keys = {sig.identity_keys[p] for p in peers if p in sig.identity_keys}
    return keys.pop() if len(keys) == 1 else NO_KEY


async def take_part(server: str, identity: Identity, start: m.LinkTestStart, *,
                    tls_ca: str | None = None, media_host: str | None = None,
                    trust: TrustPolicy | None = None,
                    on_alarm: Callable[[str], None] | None = None
                    ) -> tuple[m.LinkTestFigures, bytes]:
    """Run our end of link test ``start``: its figures and the far end's identity key
    (NO_KEY if none); never raises for a failed test (the figures say what failed),
    only for cancellation."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:  # the room is derived from hotline + test id, not the server's pick
        room = check_hotline_room(start.room, start.hotline, start.test_id)
    except ProtocolError as exc:
        return m.LinkTestFigures(joined=False, error=_describe(exc)), NO_KEY
    policy = (trust or TrustPolicy()).for_hotline(start.hotline)
    call = Call(server, identity, room, tls_ca=tls_ca, video_size=VIDEO_SIZE,
                join_request=m.HotlineJoin(call_id=start.test_id), trust_policy=policy,
                # the relay path through TURN only, the SFU path never through TURN;
                # the direct path alone (nothing published to the SFU)
                relay_only=start.path == "relay", use_relay=start.path == "relay",
                direct_only=start.path == "direct",
                direct_addresses=[media_host] if media_host is not None else None,
                host_addresses=None if media_host is None else [media_host])
    figures: m.LinkTestFigures | None = None
    seen = NO_KEY
    try:
        await asyncio.wait_for(call.start(), SETUP_TIMEOUT)
        end = loop.time() + start.duration_s
        code, seen = await _code_with_far_end(call, end)
        while loop.time() < end:  # a far end whose key changes mid-test fails it too
            if call.signaling.pin_failure is not None:
                raise call.signaling.pin_failure
            await asyncio.sleep(min(0.1, max(0.0, end - loop.time())))
        figures = await measure(call, started, code)
    except asyncio.CancelledError:
        raise
    except UntrustedKey as exc:  # refused before anything was sealed to it
        log.error("link test %s: %s", start.test_id, exc)
        if on_alarm is not None:
            on_alarm(str(exc))
        figures = await _failed(call, started, exc)
    except Exception as exc:  # any failure is a result of the test, reported as such
        log.info("link test %s failed here: %s", safe(start.test_id), safe(exc))
        figures = await _failed(call, started, exc)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(call.close(), 5)
    return figures, seen


async def _failed(call: Call, started: float, exc: Exception) -> m.LinkTestFigures:
    try:
        measured = await measure(call, started, "")
    except Exception:
        return m.LinkTestFigures(joined=False, error=_describe(exc))
    return measured.model_copy(update={"error": _describe(exc)})


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text[:200]
