"""``hotline selfcheck``: run the E2EE core end to end on this machine and report.

``make selfcheck`` runs it: it shows, with real keys and real frames, which parts
of Hotline's E2EE core work on this machine.
"""

from __future__ import annotations

import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from hotline import __version__
from hotline.crypto.callkey import Kem
from hotline.crypto.frames import Codec
from hotline.crypto.identity import Identity
from hotline.crypto.kid import Slot
from hotline.crypto.localroom import LocalRoom
from hotline.crypto.sframe import CipherSuite, SFrameContext, SFrameSender
from hotline.errors import HotlineError, SFrameError

Check = Callable[[], str]


def _sframe_suites() -> str:
    for suite in CipherSuite:
        ctx = SFrameContext(suite)
        key = os.urandom(32)
        ctx.add_encryption_key(7, key)
        ctx.add_decryption_key(7, key)
        sender = SFrameSender(ctx, 7)
        for i in range(100):
            frame = os.urandom(200 + i)
            if ctx.decrypt(b"m", sender.encrypt(b"m", frame)) != frame:
                raise HotlineError(f"round trip failed for {suite.name}")
    return f"{len(CipherSuite)} suites, 100 frames each, encrypt+decrypt"


def _identity_file() -> str:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "id.pem"
        identity = Identity.generate()
        identity.save(path, b"selfcheck passphrase")
        mode = path.stat().st_mode & 0o777
        loaded = Identity.load(path, b"selfcheck passphrase")
        if loaded.public_key != identity.public_key or mode != 0o600:
            raise HotlineError("identity file round trip failed")
    return f"Ed25519, passphrase file mode {mode:o}, fingerprint {identity.fingerprint[:19]}…"


def _call(kem: Kem) -> str:
    room = LocalRoom("selfcheck")
    alice, bob = room.join("alice", kem), room.join("bob", kem)
    carol = room.join("carol", kem)
    frame = bytes([0x90]) + os.urandom(120)  # VP8 delta frame
    wire = alice.send(frame, Codec.VP8, Slot.VIDEO)
    if bob.receive(wire, Codec.VP8) != frame or carol.receive(wire, Codec.VP8) != frame:
        raise HotlineError("members could not decrypt each other")
    if len(room.codes()) != 1:
        raise HotlineError("group codes differ")
    before = next(iter(room.codes()))
    room.leave(carol.participant_id)
    later = alice.send(b"\x78" + os.urandom(60))
    try:
        carol.receive(later)
    except SFrameError:
        pass
    else:
        raise HotlineError("a leaver decrypted a frame sent after it left")
    code = alice.code
    assert code is not None
    return (f"3 join, 1 leaves: code {before} → {code.digits} "
            f"({code.words.split()[0]} …), leaver locked out")


CHECKS: list[tuple[str, Check]] = [
    ("SFrame (RFC 9605)", _sframe_suites),
    ("identity key file", _identity_file),
    ("E2EE call, X25519", lambda: _call(Kem.X25519)),
    ("E2EE call, ML-KEM-768+X25519", lambda: _call(Kem.MLKEM768_X25519)),
]

NOT_YET = [
    "media: the SFU and the Python client's audio/video (hotline join)",
    "browser client",
    "hotlines, link tests, uptime record",
]


def selfcheck() -> None:
    """Exercise the E2EE core on this machine and print what works."""
    console = Console()
    console.print(f"[bold]Hotline {__version__}[/] self-check")
    table = Table("part", "result", "detail", "ms")
    failed = 0
    for name, check in CHECKS:
        start = time.perf_counter()
        try:
            detail, ok = check(), True
        except (HotlineError, AssertionError) as exc:
            detail, ok = str(exc), False
            failed += 1
        ms = f"{(time.perf_counter() - start) * 1000:.0f}"
        table.add_row(name, "[green]ok[/]" if ok else "[red]FAILED[/]", detail, ms)
    console.print(table)
    console.print("Not built yet:")
    for line in NOT_YET:
        console.print(f"  - {line}")
    if failed:
        raise typer.Exit(code=1)
