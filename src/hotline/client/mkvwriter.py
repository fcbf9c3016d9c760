"""One Matroska file of a recording: decrypted tracks in, one titled stream per track.

Only :class:`hotline.client.recording.Recorder` makes one, and only while its consent
rule holds (REQUIREMENTS L4). Video is H.264 (x264, ultrafast), audio Opus. Every
stream is given its first frame before the header is written (a video stream's size is
its first frame's); a track that sends nothing within ``FIRST_FRAME_S`` is left out of
the file and named in :attr:`MkvWriter.missing`. Each track starts at the arrival time of
its first frame (from the earliest first frame of the file), then follows the frames' own
timestamps (audio: its samples, one after another), so the tracks stay in step with each
other. A video frame whose own time is more than :data:`RESYNC_S` from when it came (its
sender's clock jumped), or audio that fell that far behind (frames lost), starts again from
when the frame came.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
from dataclasses import dataclass
from pathlib import Path

import av
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av.audio.frame import AudioFrame
from av.video.frame import VideoFrame

log = logging.getLogger("hotline.recording")
FIRST_FRAME_S = 5.0
#: A frame whose place in the file is this far (s) from when it came re-anchors its track.
RESYNC_S = 1.0
_VIDEO_BASE = fractions.Fraction(1, 90_000)


def _since(first: int | None, frame: VideoFrame) -> float:
    """Seconds from the track's first frame (timestamp ``first``) to ``frame``. The
    timestamps are RTP's: 32 bits that wrap, and a frame may come a little out of order,
    so the difference is taken modulo 2**32 as a signed number (a frame older than the
    first is before it, not 13 hours after it)."""
    if first is None or frame.pts is None or frame.time_base is None:
        return 0.0
    ticks = (frame.pts - first) & 0xFFFFFFFF
    if ticks >= 1 << 31:
        ticks -= 1 << 32
    return float(ticks * frame.time_base)


@dataclass(frozen=True)
class TrackSpec:
    """A track to write and its title (the speaker, or a channel's language)."""

    track: MediaStreamTrack
    title: str
    language: str = ""


class MkvWriter:
    def __init__(self, path: Path, specs: list[TrackSpec]) -> None:
        self.path = path
        self._specs = specs
        self._container: av.container.OutputContainer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self.missing: list[str] = []  # titles of tracks that sent nothing in time
        self.titles: list[str] = []  # of the streams written
        self.frames = 0
        self._t0 = 0.0
        self._halted = False

    async def start(self) -> None:
        """Wait for each track's first frame, write the header, then write as they come."""
        firsts = await asyncio.gather(*(self._first(s.track) for s in self._specs))
        if self._halted:
            raise OSError("consent ended before the tracks started")
        live = [(s, f) for s, f in zip(self._specs, firsts, strict=True) if f is not None]
        self.missing = [s.title for s, f in zip(self._specs, firsts, strict=True) if f is None]
        if not live:
            raise OSError("no track sent a frame: nothing to record")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        container = self._container = av.open(str(self.path), mode="w", format="matroska")
        self._t0 = min(at for _, (_, at) in live)
        for spec, (frame, at) in live:
            stream = self._add_stream(container, spec, frame)
            self.titles.append(spec.title)
            self._tasks.append(asyncio.ensure_future(
                self._run(spec.track, stream, frame, at - self._t0)))

    @staticmethod
    def _add_stream(container: av.container.OutputContainer, spec: TrackSpec,
                    frame: AudioFrame | VideoFrame) -> av.stream.Stream:
        if isinstance(frame, VideoFrame):
            video = container.add_stream("libx264", rate=30, options={"preset": "ultrafast",
                                                                      "tune": "zerolatency"})
            video.width, video.height = frame.width, frame.height
            video.pix_fmt = "yuv420p"
            video.codec_context.time_base = _VIDEO_BASE
            stream: av.stream.Stream = video
        else:
            audio = container.add_stream("libopus", rate=48_000)
            audio.layout = "stereo"
            stream = audio
        stream.metadata["title"] = spec.title
        if spec.language:
            stream.metadata["language"] = spec.language
        return stream

    @staticmethod
    async def _first(track: MediaStreamTrack) -> tuple[AudioFrame | VideoFrame, float] | None:
        """The track's first frame and the loop time it came; None if none came in time."""
        try:
            frame = await asyncio.wait_for(track.recv(), FIRST_FRAME_S)
        except (TimeoutError, MediaStreamError):
            return None
        if not isinstance(frame, AudioFrame | VideoFrame):
            return None
        return frame, asyncio.get_running_loop().time()

    async def _run(self, track: MediaStreamTrack, stream: av.stream.Stream,
                   frame: AudioFrame | VideoFrame, offset: float) -> None:
        """Write ``track`` from its first ``frame``, which came ``offset`` s into the file."""
        loop = asyncio.get_running_loop()
        samples: int | None = None
        first: int | None = None  # the first frame's own timestamp (RTP, 32 bits)
        last_pts = -1
        while True:
            if isinstance(frame, AudioFrame):
                if samples is None:  # then sample-exact
                    samples = int(offset * frame.sample_rate)
                behind = loop.time() - self._t0 - samples / frame.sample_rate
                if behind > RESYNC_S:  # frames were lost: a gap, not a drift from the video
                    samples += int(behind * frame.sample_rate)
                frame.pts, frame.time_base = samples, fractions.Fraction(1, frame.sample_rate)
                samples += frame.samples
            else:
                now = loop.time() - self._t0  # when it came, in the file's time
                if first is None:
                    first = frame.pts
                since = _since(first, frame)
                if abs(offset + since - now) > RESYNC_S:
                    # the sender's clock jumped (a restart, a looped file): go on from
                    # when this frame came
                    first, offset, since = frame.pts, now, 0.0
                pts = max(last_pts + 1, int((offset + since) * 90_000))
                frame.pts, frame.time_base, last_pts = pts, _VIDEO_BASE, pts
            self._mux(stream, frame)
            try:
                got = await track.recv()
            except MediaStreamError:
                return
            if not isinstance(got, AudioFrame | VideoFrame):
                return
            frame = got

    def _mux(self, stream: av.stream.Stream, frame: AudioFrame | VideoFrame | None) -> None:
        if self._container is None or (self._halted and frame is not None):
            return
        try:
            for packet in stream.encode(frame):  # type: ignore[attr-defined]
                self._container.mux(packet)
            self.frames += frame is not None
        except (av.error.FFmpegError, ValueError) as exc:
            log.warning("recording %s: a frame was not written: %s", self.path.name, exc)

    @property
    def halted(self) -> bool:
        return self._halted

    def halt(self) -> None:
        """Write no frame from now on (synchronous: the consent ended)."""
        self._halted = True
        for task in self._tasks:
            task.cancel()

    async def close(self) -> None:
        """Stop reading, flush every encoder, close the file; stop the tracks given."""
        self.halt()
        for spec in self._specs:
            spec.track.stop()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        container = self._container
        if container is None:
            return
        for stream in container.streams:
            self._mux(stream, None)
        self._container = None
        container.close()
