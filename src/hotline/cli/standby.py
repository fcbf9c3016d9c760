"""``hotline standby``: keep a hotline endpoint ready; answer link tests; ring on calls.

The endpoint stays connected (reconnecting with backoff), answers link tests by itself
with the synthetic pattern, and on a real call rings (terminal bell and a status line).
The operator types one command per line (a terminal or a pipe both work):

    a [MESSAGE]   acknowledge the ringing call; the caller sees MESSAGE (e.g. an ETA)
    y  or Enter   answer: only now does media start (the camera opens, if one is chosen)
    h             hang up, or decline the ringing call
    q             quit

The far party's keys are checked by this endpoint against the pins imported with
``hotline pin add`` (beside the identity file); a link test or call with any other key is
refused and prints an ALARM. The group code of each link test and call is printed: the
far end shows the same one.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from hotline.cli.enroll import IdentityFile, Server, TlsCa
from hotline.cli.exits import failed
from hotline.client.hotline.recordhead import path_for
from hotline.client.hotline.standby import CallMedia, Standby, StandbyEvent
from hotline.client.trustpolicy import TrustPolicy
from hotline.crypto.identity import Identity
from hotline.errors import HotlineError

HotlineName = Annotated[str, typer.Option("--hotline", help="The hotline to stand by for.")]
MediaHost = Annotated[str | None, typer.Option(
    "--media-host", help="Gather media (ICE) candidates on this address only.")]
MediaFile = Annotated[Path | None, typer.Option("--media", help="Real calls: send this "
                                                "media file instead of the test pattern.")]
Camera = Annotated[str | None, typer.Option("--camera", help="Real calls: camera (v4l2).")]
Microphone = Annotated[str | None, typer.Option("--microphone", help="Real calls: ALSA "
                                                "microphone.")]


def _say(text: str) -> None:
    stamp = time.strftime("%H:%M:%S")
    print(f"[{stamp}] {text}", flush=True)


def _path_figures(result: dict[str, Any]) -> str:
    def fmt(name: str, unit: str, scale: float = 1.0) -> str:
        value = result.get(name)
        return f"{name.removesuffix('_ms')} {value * scale:.1f}{unit}" if isinstance(
            value, int | float) else f"{name.removesuffix('_ms')} -"
    return ", ".join([fmt("setup_ms", " ms"), fmt("first_frame_ms", " ms"),
                      fmt("rtt_ms", " ms"), fmt("loss", " %", 100.0), fmt("jitter_ms", " ms")])


def figures_line(result: dict[str, Any]) -> str:
    """One line of a link test's figures, for people: per path for a round."""
    paths = result.get("paths")
    if isinstance(paths, dict):
        text = "; ".join(f"{path} {str(d.get('outcome', '')).upper()} {_path_figures(d)}"
                         for path, d in paths.items() if isinstance(d, dict))
    else:  # one test (an entry of the record)
        text = f"{_path_figures(result)} via {result.get('path') or '-'}"
    reason = result.get("reason")
    return f"{text} ({reason})" if reason else text


class Console:
    """Turns standby events into lines and typed commands into actions."""

    def __init__(self, standby: Standby) -> None:
        self.standby = standby
        self.quit = asyncio.Event()

    def show(self, ev: StandbyEvent) -> None:
        d = ev.data
        match ev.kind:
            case "connected":
                _say(f"standing by on hotline {self.standby.hotline!r} as {d['party']} "
                     f"(far end: {d['far_party']}; link test every {d['interval_s']:g} s)")
            case "disconnected":
                what = "disconnected" if d.get("ever_connected") else \
                    "not connected yet (never since started)"
                _say(f"{what}: {d.get('reason')}; retrying in {d.get('retry_s', 0):g} s")
            case "ring":
                print("\a", end="", flush=True)
                _say(f"RINGING: call on {self.standby.hotline!r} from {d['caller_party']} "
                     f"({d['caller_device']}). Type 'a <message>' to acknowledge, Enter to "
                     "answer, 'h' to decline.")
            case "ring_stop":
                _say(f"ringing stopped: {d['reason']}")
            case "linktest":
                _say(f"link test {d['test_id']} ({d['role']}) running…")
            case "linktest_done":
                if d.get("group_code"):
                    _say(f"link test {d['test_id']}: group code {d['group_code']} (the far end "
                         "shows the same)")
                elif d.get("error"):
                    _say(f"link test {d['test_id']} failed here: {d['error']}")
            case "group_code":
                _say(f"call group code {d['digits']} ({d['words']}): read it aloud with the "
                     "far end")
            case "alarm":
                print("\a", end="", flush=True)
                _say(f"*** ALARM *** {d['message']}")
            case "linktest_result":
                result = d["result"] if isinstance(d["result"], dict) else {}
                _say(f"link test: {str(d['outcome']).upper()}: {figures_line(result)}")
            case "call_started":
                _say("call connected: media flows (encrypted end to end)")
            case "path":
                _say(f"media path: {d['path']}")
            case "call_ended":
                _say(f"call ended: {d['reason']}")
            case "error":
                _say(f"refused: {d.get('message')}")
            case "alarm":
                print("\a", end="", flush=True)
                _say(f"ALARM: {d.get('message')} (link tests fail until this is looked into; "
                     "docs/OPERATIONS.md \"Uptime record alarms\")")

    def command(self, line: str) -> None:
        word, _, rest = line.strip().partition(" ")
        ringing = list(self.standby.ringing)
        try:
            if word == "q":
                self.quit.set()
            elif word == "h":
                target = self.standby.call_id or (ringing[-1] if ringing else None)
                self.standby.hangup(target)
            elif word in ("a", "y", ""):
                if not ringing:
                    if word:
                        _say("nothing is ringing")
                    return
                if word == "a":
                    self.standby.acknowledge(ringing[-1], rest.strip())
                    _say("acknowledged" + (f": {rest.strip()}" if rest.strip() else ""))
                else:
                    self.standby.answer(ringing[-1])
                    _say("answering…")
            else:
                _say("commands: a [message] | y or Enter | h | q")
        except HotlineError as exc:
            _say(f"cannot: {exc}")


async def _run(standby: Standby) -> None:
    console = Console(standby)
    loop = asyncio.get_running_loop()

    def on_input() -> None:
        line = sys.stdin.readline()
        if not line:  # end of input: keep standing by, stop reading
            loop.remove_reader(sys.stdin.fileno())
            return
        console.command(line)

    with contextlib.suppress(PermissionError, ValueError, OSError):
        loop.add_reader(sys.stdin.fileno(), on_input)  # not for a regular file
    runner = asyncio.ensure_future(standby.run())
    quit_wait = asyncio.ensure_future(console.quit.wait())
    stopped = ""

    def stop(why: str) -> None:
        nonlocal stopped
        stopped = stopped or why
        console.quit.set()

    for sig, why in ((signal.SIGINT, "interrupted (Ctrl-C)"), (signal.SIGTERM, "terminated")):
        loop.add_signal_handler(sig, stop, why)
    try:
        while not runner.done() and not console.quit.is_set():
            get = asyncio.ensure_future(standby.events.get())
            done, _ = await asyncio.wait({get, runner, quit_wait},
                                         return_when=asyncio.FIRST_COMPLETED)
            if get in done:
                console.show(get.result())
            else:
                get.cancel()
        if runner.done():
            runner.result()
        ringing = " (a ringing call was left unanswered)" if standby.ringing else ""
        in_call = " (the call was hung up)" if standby.call_id else ""
        _say(f"standby on {standby.hotline!r} stopped: {stopped or 'quit'}{in_call}{ringing}; "
             "link tests and calls of this endpoint fail until it stands by again")
    finally:
        runner.cancel()
        quit_wait.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await runner
        await standby.close()


def standby(server: Server, identity: IdentityFile, hotline: HotlineName,
            media_host: MediaHost = None, media: MediaFile = None, camera: Camera = None,
            microphone: Microphone = None, tls_ca: TlsCa = None) -> None:
    """Stand by on a hotline: answer link tests, ring on calls (see the commands above)."""
    try:
        ident = Identity.load(identity)
        endpoint = Standby(server, ident, hotline, tls_ca=tls_ca, media_host=media_host,
                           media=CallMedia(media, camera, microphone),
                           record_file=path_for(Path(identity)),
                           trust=TrustPolicy.for_identity(identity))
        asyncio.run(_run(endpoint))
    except (HotlineError, ValueError) as exc:
        raise failed(exc) from None
