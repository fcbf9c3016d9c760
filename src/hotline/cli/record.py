"""``hotline record`` (a recorder seat) and the recording side of ``hotline join``.

``hotline record --server URL --room ROOM --phase open --out DIR`` joins ROOM with a
device whose role is ``recorder`` (or ``press``), asks the principals for their consent
and writes ``DIR/ROOM-open-<UTC>.mkv`` only while each of them consents
(:mod:`hotline.client.recording`); it prints what it waits for, who refused, when it
records, and each file it closed, and exits once the phase it recorded ended.

In ``hotline join`` a principal answers each request with ``--consent-recording yes``,
``no`` or ``ask`` (at a terminal: type ``y N`` to allow recorder N, ``n N`` to refuse);
every member sees "● recorded by NAME" while someone records.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from hotline.cli.enroll import IdentityFile, Server, TlsCa
from hotline.cli.exits import failed
from hotline.client.call import Call
from hotline.client.consentgate import indicator
from hotline.client.recording import Recorder
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity
from hotline.errors import HotlineError, UsageError
from hotline.signaling import messages as m


class ConsentPolicy(StrEnum):
    yes = "yes"
    no = "no"
    ask = "ask"


def watch_recordings(call: Call, console: Console, policy: ConsentPolicy) -> None:
    """``hotline join``: show who records, and answer requests as ``policy`` says."""
    sig = call.signaling
    recs = sig.recordings

    def shown() -> None:
        line = indicator(sig.names, recs.recording)
        console.print(f"[bold red]{escape(line)}[/]" if line else "recording: nobody records now")

    def request(msg: m.RecordRequested) -> None:
        name = escape(sig.names.get(msg.participant_id, f"participant {msg.participant_id}"))
        if sig.role != "principal":
            console.print(f"{name} asks the principals to consent to recording the "
                          f"{msg.phase} part")
            return
        if policy is ConsentPolicy.ask and sys.stdin.isatty():
            console.print(f"[bold]{name} asks to record the {msg.phase} part.[/] Type "
                          f"[bold]y {msg.participant_id}[/] to allow or "
                          f"[bold]n {msg.participant_id}[/] to refuse.")
            recs.pending[msg.participant_id] = msg
            return
        if policy is ConsentPolicy.ask:
            console.print(f"{name} asks to record the {msg.phase} part: not answered "
                          "(no terminal; use --consent-recording yes|no)")
            return
        answer(msg, policy is ConsentPolicy.yes)

    def answer(msg: m.RecordRequested, granted: bool) -> None:
        answer_request(call, msg, granted, console)

    recs.on_change, recs.on_request = shown, request


def answer_request(call: Call, msg: m.RecordRequested, granted: bool,
                   console: Console) -> None:
    """Sign and send this principal's answer to a recorder's request."""
    sig = call.signaling
    try:
        sig.consent_recording(msg, granted)
    except UsageError as exc:
        console.print(f"[bold red]recording request not answered: {escape(str(exc))}[/]")
        return
    name = escape(sig.names.get(msg.participant_id, f"participant {msg.participant_id}"))
    console.print(f"recording by {name} of the {msg.phase} part: "
                  f"{'[green]allowed[/]' if granted else '[yellow]refused[/]'} (signed)")


def typed_answer(call: Call, pid: int, granted: bool, console: Console) -> None:
    """``y N`` / ``n N`` typed in ``hotline join``."""
    msg = call.signaling.recordings.pending.pop(pid, None)
    if msg is None:
        console.print(f"no recording request of participant {pid} waits for an answer")
    else:
        answer_request(call, msg, granted, console)


async def _record(call: Call, out: Path, phase: m.Phase, console: Console,
                  until_close: bool) -> list[Path]:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(s, stop.set)
    recorder = Recorder(call, out, phase)
    recorder.on_progress = lambda line: console.print(escape(line))
    recorder.attach()
    try:
        await call.start()
        console.print(f"joined {call.room!r} as {call.signaling.role}")
        recorder.start()
        waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(
            recorder.phase_over.wait() if until_close else asyncio.Event().wait())]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for w in waits:
            w.cancel()
    finally:
        await call.close()
    return recorder.files


def record(
    server: Server,
    identity: IdentityFile,
    room: Annotated[str, typer.Option("--room", help="The room whose call to record.")],
    out: Annotated[Path, typer.Option("--out", help="Folder for the .mkv files.")],
    phase: Annotated[str, typer.Option("--phase", help="The part to record: open or "
                                       "closed.")] = "open",
    keep_going: Annotated[bool, typer.Option(
        "--keep-going", help="Stay after the phase ended (record it again if it comes "
        "back and the principals consent again).")] = False,
    tls_ca: TlsCa = None,
    accept: Annotated[list[str] | None, typer.Option(
        "--accept", help="Accept this device (PARTY:FINGERPRINT); repeat for each.")] = None,
    accept_new_devices: Annotated[bool, typer.Option(
        "--accept-new-devices", help="Accept EVERY new party and device (a warning for "
        "each).")] = False,
) -> None:
    """Record a phase of ROOM's call, only with the consent of each principal."""
    if phase not in ("open", "closed"):
        raise typer.BadParameter("--phase is open or closed")
    console = Console()
    try:
        ident = Identity.load(identity)
        policy = TrustPolicy.for_identity(identity, accept=accept or (),
                                          accept_new=accept_new_devices, quiet=True)
        policy.on_warning = lambda text: console.print(f"[bold yellow]{escape(text)}[/]")
        call = Call(server, ident, room, tls_ca=tls_ca, trust_policy=policy)
        files = asyncio.run(_record(call, out, phase, console,  # type: ignore[arg-type]
                                    until_close=not keep_going))
    except (HotlineError, PermissionError) as exc:
        raise failed(exc) from None
    for path in files:
        console.print(f"file: {path}")
    if not files:
        console.print("nothing was recorded")
