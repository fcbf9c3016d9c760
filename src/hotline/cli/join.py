"""``hotline join``: take part in an E2EE call from the terminal.

Shows the group verification code to compare aloud, who is in the call and how many
frames of each party were decrypted; Ctrl-C (or ``--duration``) leaves the call. A broken
connection is resumed by the client; when the server is gone for longer (a restart), it
joins the room again by itself, with a growing delay (1 s … 15 s), until it can.

Keys are sealed only to devices this device has verified (the trust store beside the
identity file). A new party or a new device of a known party is shown as UNVERIFIED and
gets no key until accepted: at a terminal, type ``a N`` (accept participant N) or ``r N``
(refuse); scripts use ``--accept PARTY:FINGERPRINT`` or ``--accept-new-devices`` (a
warning for each device so accepted). Accepted devices are remembered: joining again
later (e.g. after a server restart) asks nothing.

In a room with interpretation channels, ``--listen ru`` hears channel ``ru`` besides the
floor, ``--floor -15`` (dB, 0 to -40) or ``--floor mute`` sets the floor's level, and an
interpreter publishes into a channel with ``--channel ru``; ``--mix-out FILE.wav`` writes
what this listener hears.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from hotline.cli.enroll import IdentityFile, Server, TlsCa
from hotline.cli.exits import failed
from hotline.cli.record import ConsentPolicy, typed_answer, watch_recordings
from hotline.client.call import Call
from hotline.client.callstats import CallStats
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity
from hotline.errors import HotlineError
from hotline.phases import CLOSED_OUT
from hotline.signaling.channels import PATTERN

CHANNEL = re.compile(PATTERN)


def _table(call: Call, stats: CallStats, elapsed: float) -> Table:
    table = Table(title=f"room {call.room!r} · {call.phase.upper()} · {elapsed:.0f} s · "
                        "encrypted end to end · "
                        f"{call.path or 'connecting'} ({call.path_state})"
                        f"{_channels(call)}",
                  caption=f"group code [bold]{stats.group_code or 'verifying…'}[/]  "
                          f"({stats.group_words})\n[dim]first frame: time from your join "
                          "to that party's first decrypted frame[/]")
    table.add_column("party")
    table.add_column("video frames", justify="right")
    table.add_column("audio frames", justify="right")
    table.add_column("failed", justify="right")
    table.add_column("first frame (after join)", justify="right")
    for party, r in sorted(stats.remote.items()):
        first = f"{r['first_frame_ms']:.0f} ms" if r["first_frame_ms"] is not None else "waiting"
        failed = str(r["decrypt_failures"])
        if r.get("wrong_stream_frames"):  # frames of someone else in this party's streams
            failed += (f" [red]({r['wrong_stream_frames']} not {escape(party)}'s: "
                       "streams swapped)[/]")
        name = escape(party) if r.get("present", True) else f"[dim]{escape(party)} (left)[/]"
        table.add_row(name, str(r["video_frames_decrypted"]),
                      str(r["audio_frames_decrypted"]), failed, first)
    for u in stats.unverified:
        what = str(u["verdict"]).replace("_", " ").upper()
        table.add_row(f"[bold red]{escape(str(u['party']))} UNVERIFIED[/] ({what}, "
                      f"participant {u['participant_id']})", "no key", "no key", "",
                      escape(str(u["fingerprint"])))
    table.add_row("[dim]sent by me[/]", str(stats.sent["video_frames"]),
                  str(stats.sent["audio_frames"]), "", "")
    return table


def phase_line(call: Call, phase: str) -> str:
    """What ``hotline join`` prints at a phase change."""
    if phase == "closed":
        out = (" You are a press seat: you are shown out (no key, no media) until it "
               "reopens." if call.signaling.role in CLOSED_OUT else " The press is shown out.")
        return f"[bold]phase: CLOSED[/].{out}"
    return "[bold]phase: OPEN[/] (the press sees and hears the call)."
def _channels(call: Call) -> str:
    """What this member hears and publishes into, in a room with channels."""
    i = call.interpretation
    if not i.channels:
        return ""
    heard = ", ".join(sorted(i.listening)) or "floor only"
    floor = "muted" if i.floor_db is None else f"{i.floor_db:g} dB"
    mine = i.member_channel.get(call.signaling.participant_id or -1, "")
    return f"\nchannels {' '.join(i.channels)} · hearing {heard} · floor {floor}" + (
        f" · interpreting into {mine}" if mine else "")


def parse_floor(text: str) -> float | None:
    """``--floor``: a level in dB (0 to -40) or ``mute`` (None)."""
    if text.strip().lower() in ("mute", "muted", "off"):
        return None
    try:
        db = float(text)
    except ValueError:
        raise typer.BadParameter(f"--floor takes a level in dB (0 to -40) or mute, not "
                                 f"{text!r}") from None
    if not -40 <= db <= 0:
        raise typer.BadParameter(f"--floor {text}: the level is 0 to -40 dB (or mute)")
    return db


def _prompt(call: Call, console: Console, shown: set[tuple[int, str]]) -> None:
    """Warn about every member waiting for a decision (once each)."""
    sig = call.signaling
    for pid, p in sig.unverified.items():
        if (pid, p.fingerprint) in shown or p.verdict.value == "refused":
            continue
        shown.add((pid, p.fingerprint))
        console.print(f"[bold red]{escape(p.describe())}[/]\n  Verify the fingerprint with "
                      f"its owner (out of band), then type [bold]a {pid}[/] to accept or "
                      f"[bold]r {pid}[/] to refuse.")


def _decide(call: Call | None, line: str, console: Console) -> None:
    word, _, rest = line.strip().partition(" ")
    if call is None or word not in ("a", "r", "y", "n") or not rest.strip().isdigit():
        if line.strip():
            console.print("commands: a N (accept participant N) | r N (refuse it) | "
                          "y N (allow recorder N to record) | n N (refuse it)")
        return
    pid = int(rest)
    if word in ("y", "n"):
        typed_answer(call, pid, word == "y", console)
        return
    try:
        if word == "a":
            call.signaling.accept(pid)
            console.print(f"[green]accepted participant {pid}: it gets a fresh key[/]")
        else:
            call.signaling.refuse(pid)
            console.print(f"[yellow]refused participant {pid}: it gets no key[/]")
    except HotlineError as exc:
        console.print(f"cannot: {exc}")


REJOIN_MIN, REJOIN_MAX = 1.0, 15.0


async def _rejoin(make_call: Callable[[], Call], stop: asyncio.Event,
                  console: Console) -> Call | None:
    """The server went away (a broken connection is resumed by the client itself; this is
    for a server that restarted or stayed away longer): join again, with new keys, with a
    growing delay, until it works or the user stops. None if stopped."""
    delay = REJOIN_MIN
    while not stop.is_set():
        console.print(f"[yellow]connection to the server lost; joining again in {delay:.0f} s…[/]")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        if stop.is_set():
            return None
        call = make_call()
        try:
            await asyncio.wait_for(call.start(), 20)
        except (HotlineError, OSError, TimeoutError) as exc:
            console.print(f"[yellow]not yet: {exc}[/]")
            await call.close()
            delay = min(REJOIN_MAX, delay * 2)
            continue
        console.print("[green]joined again[/] (new keys: compare the new group code)")
        return call
    return None


async def _run(make_call: Callable[[], Call], duration: float | None, console: Console,
               stats_json: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    first = make_call()
    call: Call | None = first
    final: CallStats | None = None
    interactive = sys.stdin.isatty()
    shown: set[tuple[int, str]] = set()
    if interactive:
        loop.add_reader(sys.stdin.fileno(),
                        lambda: _decide(call, sys.stdin.readline(), console))
    try:
        with console.status(f"joining {first.room!r} at {first.server} …"):
            await first.start()
        start = loop.time()
        with Live(console=console, refresh_per_second=2, transient=False) as live:
            while not stop.is_set() and call is not None:
                if call.signaling.closed.is_set():
                    final = call.stats()
                    await call.close()
                    call = await _rejoin(make_call, stop, live.console)
                    continue
                live.update(_table(call, call.stats(), loop.time() - start))
                if interactive:
                    _prompt(call, live.console, shown)
                if duration is not None and loop.time() - start >= duration:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
            if call is not None:
                live.update(_table(call, call.stats(), loop.time() - start))
    finally:
        if interactive:
            loop.remove_reader(sys.stdin.fileno())
        if call is not None:
            final = call.stats()
            await call.close()
        if stats_json is not None and final is not None:
            stats_json.write_text(json.dumps(final.as_json(), indent=2) + "\n")


def join(
    server: Server,
    identity: IdentityFile,
    room: Annotated[str, typer.Option("--room", help="The room to join.")],
    synthetic: Annotated[bool, typer.Option("--synthetic",
                                            help="Send a test pattern and tone (default).")]
    = False,
    media: Annotated[Path | None, typer.Option("--media", help="Send this media file "
                                               "(looped) instead.")] = None,
    camera: Annotated[str | None, typer.Option("--camera", help="Send video from this "
                                               "camera (v4l2), e.g. /dev/video0.")] = None,
    microphone: Annotated[str | None, typer.Option("--microphone", help="Send audio from "
                                                   "this ALSA device, e.g. default.")] = None,
    duration: Annotated[float | None, typer.Option(help="Leave after this many seconds.")]
    = None,
    consent_recording: Annotated[ConsentPolicy, typer.Option(
        "--consent-recording", help="A principal's answer to a recorder's request: yes, "
        "no, or ask (at a terminal; otherwise left unanswered). Recording is done only by "
        "`hotline record`, with every principal's consent.")] = ConsentPolicy.ask,
    stats_json: Annotated[Path | None, typer.Option("--stats-json", help="Write call "
                                                    "figures as JSON here at exit.")] = None,
    tls_ca: TlsCa = None,
    accept: Annotated[list[str] | None, typer.Option(
        "--accept", help="Accept this device (PARTY:FINGERPRINT, checked out of band); "
        "repeat for each.")] = None,
    accept_new_devices: Annotated[bool, typer.Option(
        "--accept-new-devices", help="Accept EVERY new party and device (a warning for "
        "each): for unattended scripts that verify the group code otherwise.")] = False,
    direct: Annotated[bool, typer.Option(
        "--direct", help="With one other member in a room that allows it: a direct "
        "(peer-to-peer) path beside the SFU, used while it works (media stays end-to-end "
        "encrypted).")] = False,
    relay_only: Annotated[bool, typer.Option(
        "--relay-only", help="Send and receive media only through the server's TURN "
        "relay (fails if it offers none that answers).")] = False,
    turn_ca: Annotated[str | None, typer.Option(
        "--turn-ca", help="CA certificate (PEM) to check a turns: (TLS) relay with, "
        "besides the system's.")] = None,
    listen: Annotated[list[str] | None, typer.Option(
        "--listen", help="Hear this interpretation channel besides the floor (e.g. ru; "
        "repeat for more).")] = None,
    floor: Annotated[str, typer.Option(
        "--floor", help="The floor's level while hearing a channel: dB (0 to -40) or "
        "mute.")] = "0",
    channel: Annotated[str, typer.Option(
        "--channel", help="Interpreters: publish your audio into this channel (e.g. "
        "ru).")] = "",
    mix_out: Annotated[Path | None, typer.Option(
        "--mix-out", help="Write what you hear (channels and floor, mixed) to this WAV "
        "file.")] = None,
) -> None:
    """Join ROOM with this device's identity and take part in the call."""
    if synthetic and (media is not None or camera or microphone):
        raise typer.BadParameter("--synthetic sends the test pattern only: leave out "
                                 "--media, --camera and --microphone")
    if duration is not None and duration <= 0:
        raise typer.BadParameter("--duration must be positive")
    floor_db = parse_floor(floor)
    for name in [*(listen or []), *([channel] if channel else [])]:
        if not CHANNEL.fullmatch(name):
            raise typer.BadParameter(f"bad channel name {name!r}: a lowercase language tag "
                                     "such as ru, zh, en or pt-br")
    console = Console()
    try:
        ident = Identity.load(identity)
        if media is not None and not media.is_file():
            raise typer.BadParameter(f"no such media file: {media}")

        policy = TrustPolicy.for_identity(identity, accept=accept or (),
                                          accept_new=accept_new_devices, quiet=True)
        policy.on_warning = lambda text: console.print(f"[bold yellow]{escape(text)}[/]")

        def make_call() -> Call:
            call = Call(server, ident, room, media_file=media,
                        camera=camera, microphone=microphone, tls_ca=tls_ca,
                        trust_policy=policy, direct=direct, relay_only=relay_only,
                        turn_ca=turn_ca, listen=listen or [], floor_db=floor_db,
                        channel=channel, mix_out=mix_out)
            call.on_path_change = lambda label: console.print(
                f"media path: [bold]{escape(label)}[/]")
            call.on_phase_change = lambda phase: console.print(phase_line(call, phase))
            call.signaling.phases.on_alarm = lambda text: console.print(
                f"[bold red]ALARM: {escape(text)}[/]")
            watch_recordings(call, console, consent_recording)
            return call

        asyncio.run(_run(make_call, duration, console, stats_json))
    except HotlineError as exc:
        raise failed(exc) from None
