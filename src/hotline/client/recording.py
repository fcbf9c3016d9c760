"""A recorder seat (REQUIREMENTS L4): records a phase of a call, only with consent.

:class:`Recorder` drives a :class:`~hotline.client.call.Call` whose role is ``recorder``
(or ``press``). It asks the principals (``record_request``) and writes a file only while
:func:`hotline.client.consentgate.decide` says so: a valid granted consent of every
principal of its view for the current phase and the epoch it began in. It checks the
rule at once on every consent, roster change and phase change, and every
``CHECK_INTERVAL`` seconds:

- one refusal, a principal who has not answered (one who just joined included) or one
  whose device it does not trust: it does not write (an open file is closed at once; a
  new one starts when every principal consents again);
- a phase change ends every consent: the file is closed (``stopped`` in :attr:`log`);
- a new speaker's track: the file is closed and a new one started with every track.

While a file is open it tells the call (``recording``), so that every terminal shows
"● recorded by NAME". Files: ``DIR/ROOM-PHASE-<UTC>.mkv`` (:mod:`hotline.client.mkvwriter`),
audio and video per speaker, each titled with the speaker's name (an interpreter's audio
with its channel's language when the roster gives one).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamTrack

from hotline.client.call import Call
from hotline.client.callstats import RemoteStream
from hotline.client.consentgate import Decision, decide
from hotline.client.mkvwriter import MkvWriter, TrackSpec
from hotline.roles import CONSENTERS, RECORDERS
from hotline.signaling import messages as m

log = logging.getLogger("hotline.recording")
CHECK_INTERVAL = 0.2
RETRY_S = 5.0  # after a file could not be started


@dataclass
class _Source:
    participant_id: int
    kind: str
    track: MediaStreamTrack


@dataclass
class Recorder:
    call: Call
    directory: Path
    phase: m.Phase = "open"
    #: Progress for people (``hotline record`` prints each line as it comes).
    on_progress: Callable[[str], None] | None = None
    #: Every progress line, and every file written (closed), in order.
    log: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    #: Set once the phase it records ended after it recorded (``hotline record`` exits).
    phase_over: asyncio.Event = field(default_factory=asyncio.Event)
    _relay: MediaRelay = field(default_factory=MediaRelay)
    _sources: list[_Source] = field(default_factory=list)
    _writer: MkvWriter | None = None
    _writer_epoch: int = -1
    _written: set[int] = field(default_factory=set)  # id() of the sources in the file
    _requested: tuple[object, ...] = ()
    _said: str = ""
    _task: asyncio.Task[None] | None = None
    _busy: asyncio.Lock = field(default_factory=asyncio.Lock)
    _steps: set[asyncio.Future[None]] = field(default_factory=set)
    _retry_at: float = 0.0  # after a file could not be started (loop time)

    def attach(self) -> None:
        """Tap the call's tracks and watch its consents, roster and phase (before
        :meth:`Call.start`)."""
        call, sig = self.call, self.call.signaling
        call.track_tap = self._tap
        call.on_close = self.stop
        sig.recordings.on_consent = lambda _msg: self.check()
        roster, phase = sig.on_roster, sig.phases.on_change

        def on_roster() -> None:
            if roster is not None:
                roster()
            self.check()

        def on_phase(p: m.Phase) -> None:
            if phase is not None:
                phase(p)
            self.check()
        sig.on_roster, sig.phases.on_change = on_roster, on_phase

    def start(self) -> None:
        """Check the rule now and every CHECK_INTERVAL seconds (after the call joined)."""
        if self.call.signaling.role not in RECORDERS:
            raise PermissionError(f"the role {self.call.signaling.role} does not record "
                                  "(a recorder or press seat does)")
        self._task = asyncio.ensure_future(self._watch())
        self._listen_to_every_channel()

    def _listen_to_every_channel(self) -> None:
        """Ask the SFU for every interpretation channel of the room besides the floor
        (``listen``; interpretation channels, L2)."""
        sig = self.call.signaling
        channels = list(sig.interpretation.channels)
        if not channels:
            return
        listen = sig.listen

        async def ask() -> None:
            try:
                await listen(channels)
                self._say(f"listening to the channels {', '.join(channels)}")
            except Exception as exc:  # recorded: the audio the SFU sends anyway
                self._say(f"the channels were not sent to the recorder: {exc}")
        step = asyncio.ensure_future(ask())
        self._steps.add(step)
        step.add_done_callback(self._steps.discard)
    async def _watch(self) -> None:
        while True:
            self.check()
            await self._step()
            await asyncio.sleep(CHECK_INTERVAL)

    def _tap(self, stream: RemoteStream, track: MediaStreamTrack) -> MediaStreamTrack:
        self._sources.append(_Source(stream.participant_id, stream.kind, track))
        self.check()
        return self._relay.subscribe(track)

    # -- the rule --------------------------------------------------------------------------

    def decision(self) -> Decision:
        sig = self.call.signaling
        if sig.participant_id is None or sig.schedule is None:
            return Decision(False)
        principals = {pid: sig.identity_keys[pid] for pid in sig.present
                      if sig.roles.get(pid) in CONSENTERS and pid in sig.identity_keys}
        return decide(room=sig.room, recorder=sig.participant_id,
                      recorder_key=sig.identity.public_key, phase=self.phase,
                      phase_epoch=sig.phases.epoch, principals=principals,
                      trusted=sig.schedule.is_trusted,
                      consents=sig.recordings.consents.get(sig.participant_id, {}))

    def _allowed(self) -> tuple[bool, Decision]:
        sig = self.call.signaling
        d = self.decision()
        return sig.phases.phase == self.phase and d.record, d

    def check(self) -> None:
        """Stop writing at once if the rule no longer holds (synchronously: no frame of
        a later turn of the loop is written); starting is left to the watcher."""
        allowed, _ = self._allowed()
        writer = self._writer
        phase_ended = writer is not None and self.call.signaling.phases.epoch != self._writer_epoch
        if writer is not None and (not allowed or phase_ended):
            writer.halt()
            if self._task is not None:
                step = asyncio.ensure_future(self._step())
                self._steps.add(step)
                step.add_done_callback(self._steps.discard)

    async def _step(self) -> None:
        async with self._busy:
            await self._step_locked()

    async def _step_locked(self) -> None:
        sig = self.call.signaling
        allowed, d = self._allowed()
        if self._writer is not None:
            if sig.phases.epoch != self._writer_epoch:
                await self._close(f"stopped at the phase change ({sig.phases.phase})")
                self.phase_over.set()
            elif not allowed:
                await self._close("paused: " + self._why(d))
            elif {id(s) for s in self._live()} - self._written:
                await self._close("a new track: starting a new file")
        if sig.phases.phase != self.phase:
            self._say(f"waiting for the {self.phase} phase (the call is {sig.phases.phase})")
            return
        self._request()
        if not allowed:
            self._say(self._why(d))
            return
        if self._writer is None and self._live() \
                and asyncio.get_running_loop().time() >= self._retry_at:
            await self._open()

    def _request(self) -> None:
        sig = self.call.signaling
        principals = frozenset(pid for pid in sig.present if sig.roles.get(pid) in CONSENTERS)
        key = (self.phase, sig.phases.epoch, principals)
        if key != self._requested and principals:
            self._requested = key
            sig.send(m.RecordRequest(phase=self.phase))

    def _why(self, d: Decision) -> str:
        names = self.call.signaling.names

        def who(pids: tuple[int, ...]) -> str:
            return ", ".join(names.get(p, f"participant {p}") for p in pids)
        if d.refused:
            return f"refused by {who(d.refused)}: not recording"
        if d.untrusted:
            return f"not recording: {who(d.untrusted)} is not a verified device"
        if d.waiting:
            return f"waiting for consent of {who(d.waiting)}"
        return "waiting for a principal in the call"

    # -- the file --------------------------------------------------------------------------

    def _live(self) -> list[_Source]:
        """The sources of members in the call whose track has not ended (the others are
        dropped)."""
        present = self.call.signaling.present
        self._sources = [s for s in self._sources if s.participant_id in present
                         and s.track.readyState == "live"]
        return self._sources

    def _specs(self) -> list[TrackSpec]:
        sig = self.call.signaling
        specs = []
        for src in self._live():
            name = sig.names.get(src.participant_id, f"participant {src.participant_id}")
            channel = sig.interpretation.member_channel.get(src.participant_id, "")
            if src.kind == "audio" and channel:
                title, lang = f"{channel} interpretation ({name})", channel
            else:
                title, lang = f"{name} {src.kind}", ""
            specs.append(TrackSpec(self._relay.subscribe(src.track), title, lang))
        return specs

    async def _open(self) -> None:
        sig = self.call.signaling
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%dT%H%M%SZ")
        path = self.directory / f"{sig.room}-{self.phase}-{stamp}.mkv"
        n = 2
        while path.exists() or path in self.files:
            path = self.directory / f"{sig.room}-{self.phase}-{stamp}-{n}.mkv"
            n += 1
        self._written = {id(s) for s in self._live()}
        writer = MkvWriter(path, self._specs())
        self._writer, self._writer_epoch = writer, sig.phases.epoch
        sig.send(m.SetRecording(active=True))
        self._say(f"recording to {path}")
        try:
            await writer.start()
        except OSError as exc:
            self._writer = None
            sig.send(m.SetRecording(active=False))
            if writer.halted:  # the rule stopped it: started again as soon as it allows
                self._say(f"not recording: {exc}")
                return
            self._retry_at = asyncio.get_running_loop().time() + RETRY_S
            self._say(f"not recording: {exc} (trying again in {RETRY_S:.0f} s)")
            return
        if writer.missing:
            self._say(f"no media from {', '.join(writer.missing)} (left out of the file)")
        self.check()  # the rule may have changed while the tracks started

    async def _close(self, why: str) -> None:
        writer, self._writer = self._writer, None
        if writer is None:
            return
        await writer.close()
        self.call.signaling.send(m.SetRecording(active=False))
        self.files.append(writer.path)
        self._say(f"{why}; file closed: {writer.path} ({writer.frames} frames)")

    def _say(self, line: str) -> None:
        if line == self._said:
            return
        self._said = line
        self.log.append(line)
        log.info("recorder: %s", line)
        if self.on_progress is not None:
            self.on_progress(line)

    async def stop(self) -> None:
        """Stop watching and close an open file."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._writer is not None:
            self._writer.halt()
        async with self._busy:
            with contextlib.suppress(Exception):
                await self._close("stopped")
