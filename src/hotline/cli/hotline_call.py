"""``hotline call NAME`` and ``hotline linktest NAME``: use a hotline from the terminal."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from typing import Annotated

import typer

from hotline.cli.enroll import IdentityFile, Server, TlsCa
from hotline.cli.exits import PIN_REFUSED, UNREACHABLE, code_for, failed
from hotline.cli.standby import Camera, MediaFile, Microphone, _say, figures_line
from hotline.client.hotline.caller import HotlineCaller
from hotline.client.hotline.standby import CallMedia
from hotline.client.signaling import SignalingClient, trust
from hotline.client.trust import Verdict
from hotline.client.trustpolicy import Presented, TrustPolicy, UntrustedKey
from hotline.crypto.identity import Identity
from hotline.errors import CallNotConnected, HotlineError, HotlineForbidden, from_wire
from hotline.server.hotline.outcomes import UNREACHABLE as UNREACHABLE_REASON
from hotline.signaling import messages as m


async def _call(caller: HotlineCaller, duration: float | None, ring_timeout: float) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await caller.connect()
        if not caller.pins.has_pin(caller.hotline):
            if not await caller.exists():
                raise HotlineForbidden(f"no hotline named {caller.hotline!r}; see "
                                       "`hotline admin hotline list`")
            raise UntrustedKey(Presented(0, "?", "-", Verdict.UNPINNED, caller.hotline))
        caller.call.on_path_change = lambda label: _say(f"media path: {label}")
        await caller.ring()
        _say(f"ringing {caller.endpoints} standby endpoint(s) on {caller.hotline!r}…")

        def acked(ack: m.CallAcked) -> None:
            note = f": {ack.message}" if ack.message else ""
            _say(f"acknowledged by {ack.party}/{ack.device}{note}")

        waiting = asyncio.ensure_future(caller.wait_answer(acked, timeout=ring_timeout))
        stopped = asyncio.ensure_future(stop.wait())
        await asyncio.wait({waiting, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if not waiting.done():
            waiting.cancel()
            _say("cancelled")
            return
        stopped.cancel()
        waiting.result()
        _say("answered: media flows, encrypted end to end")
        start = loop.time()
        shown = ""
        while not stop.is_set() and caller.poll_ended() is None:
            if duration is not None and loop.time() - start >= duration:
                break
            left = 5.0 if duration is None else min(5.0, duration - (loop.time() - start))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.1, left))
            stats = caller.call.stats()
            if stats.group_code and stats.group_code != shown:
                shown = stats.group_code
                _say(f"call group code {shown}: read it aloud with the far end")
            frames = ", ".join(f"{p}: {r['video_frames_decrypted']} video / "
                               f"{r['audio_frames_decrypted']} audio frames"
                               for p, r in stats.remote.items())
            _say(f"group code {stats.group_code or 'verifying…'} · {frames or 'waiting for media'}")
        if caller.ended:
            _say(f"call ended: {caller.ended}")
        elif stop.is_set():
            _say("hung up (interrupted)")
    finally:
        await caller.close()


def _cause(reason: str) -> str:
    """The reason a call did not connect, in the words ``hotline linktest`` uses."""
    if reason == UNREACHABLE_REASON:
        return ("unreachable: no standby endpoint of the far party is connected (start "
                "`hotline standby` there; `hotline linktest` names the same cause)")
    return reason


def call(name: Annotated[str, typer.Argument(help="The hotline.")], server: Server,
         identity: IdentityFile,
         duration: Annotated[float | None, typer.Option(help="Hang up after this many "
                                                        "seconds.")] = None,
         ring_timeout: Annotated[float, typer.Option(help="Give up waiting for the answer "
                                                     "after this many seconds.")] = 600.0,
         media: MediaFile = None, camera: Camera = None, microphone: Microphone = None,
         tls_ca: TlsCa = None) -> None:
    """Call hotline NAME: ring every standby endpoint of the other party."""
    try:
        caller = HotlineCaller(server, Identity.load(identity), name, tls_ca=tls_ca,
                               media=CallMedia(media, camera, microphone),
                               trust_policy=TrustPolicy.for_identity(identity))
        asyncio.run(_call(caller, duration, ring_timeout))
    except UntrustedKey as exc:
        typer.echo(f"\a*** ALARM *** call refused: {exc}", err=True)
        raise typer.Exit(code=PIN_REFUSED) from None
    except CallNotConnected as exc:
        typer.echo(f"not connected: {_cause(exc.reason)}", err=True)
        raise typer.Exit(code=code_for(exc)) from None
    except HotlineError as exc:
        raise failed(exc) from None


async def _linktest(server: str, identity: Identity, name: str, tls_ca: str | None,
                    timeout: float) -> m.LinkTestResult:
    async with SignalingClient(server, identity, ssl_context=trust(tls_ca)) as client:
        await client.authenticate()
        client.send(m.LinkTestRequest(hotline=name))
        while True:
            reply = await asyncio.wait_for(client.hotline.get(), timeout)
            if isinstance(reply, m.Error):
                raise from_wire(reply.code, reply.message)
            if isinstance(reply, m.LinkTestResult) and reply.hotline == name:
                return reply


def linktest(name: Annotated[str, typer.Argument(help="The hotline.")], server: Server,
             identity: IdentityFile,
             as_json: Annotated[bool, typer.Option("--json")] = False,
             timeout: Annotated[float, typer.Option(help="Seconds to wait.")] = 120.0,
             tls_ca: TlsCa = None) -> None:
    """Run a link test of hotline NAME now (with any enrolled, pinned device of either
    party) and print the result; exit code 3 unless ok or degraded."""
    try:
        result = asyncio.run(_linktest(server, Identity.load(identity), name, tls_ca, timeout))
    except (HotlineError, TimeoutError) as exc:
        raise failed(exc) from None
    if as_json:
        typer.echo(json.dumps({"hotline": name, **result.result}))
    else:
        r = result.result
        typer.echo(f"{name}: {result.outcome.upper()} (originator {r.get('originator')}): "
                   f"{figures_line(r)}")
    if result.outcome not in ("ok", "degraded"):
        raise typer.Exit(code=UNREACHABLE)

