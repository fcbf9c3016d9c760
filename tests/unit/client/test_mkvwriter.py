"""The recording file (hotline.client.mkvwriter) with aiortc's own synthetic tracks: titled
streams that decode, a track that sends nothing left out and named, a halt before the
first frames writes no file, a folder that cannot be made is a clear OSError."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest
from aiortc.mediastreams import AudioStreamTrack, MediaStreamTrack, VideoStreamTrack

from hotline.client import mkvwriter
from hotline.client.mkvwriter import MkvWriter, TrackSpec

pytestmark = pytest.mark.asyncio


class Silent(MediaStreamTrack):
    kind = "audio"

    async def recv(self):  # type: ignore[no-untyped-def]
        await asyncio.sleep(3600)


async def test_titled_streams_that_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mkvwriter, "FIRST_FRAME_S", 1.0)
    path = tmp_path / "out" / "summit-open-x.mkv"
    w = MkvWriter(path, [TrackSpec(AudioStreamTrack(), "alice audio"),
                         TrackSpec(VideoStreamTrack(), "alice video"),
                         TrackSpec(AudioStreamTrack(), "ru interpretation (ivan)", "ru"),
                         TrackSpec(Silent(), "bob audio")])
    await w.start()
    await asyncio.sleep(1.5)
    await w.close()
    assert w.missing == ["bob audio"] and w.frames > 50
    with av.open(str(path)) as c:
        meta = [(s.type, s.metadata.get("title")) for s in c.streams]
        assert meta == [("audio", "alice audio"), ("video", "alice video"),
                        ("audio", "ru interpretation (ivan)")]
        assert c.streams[2].metadata.get("language") in ("ru", "rus")
        decoded = {i: 0 for i in range(len(c.streams))}
        for packet in c.demux():
            for _ in packet.decode():
                decoded[packet.stream.index] += 1
        assert all(n > 10 for n in decoded.values()), decoded
        assert c.duration is not None and c.duration > 0.5 * av.time_base


async def test_a_halt_before_the_first_frames_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.mkv"
    w = MkvWriter(path, [TrackSpec(VideoStreamTrack(), "v")])
    start = asyncio.ensure_future(w.start())
    await asyncio.sleep(0)
    w.halt()
    with pytest.raises(OSError, match="consent ended"):
        await start
    assert w.halted and not path.exists()


async def test_a_folder_that_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    w = MkvWriter(tmp_path / "file" / "x.mkv", [TrackSpec(AudioStreamTrack(), "a")])
    with pytest.raises(OSError):
        await w.start()


class WrappingVideo(VideoStreamTrack):
    """Video whose RTP timestamps wrap past 2**32 just before its first frame, and whose
    second frame is older than the first (the order a jitter buffer may give)."""

    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    async def recv(self):  # type: ignore[no-untyped-def]
        frame = await super().recv()
        order = [2, 1, 3]
        i = order[self.n] if self.n < len(order) else self.n
        self.n += 1
        frame.pts = ((1 << 32) - 2 * 3000 + i * 3000) & 0xFFFFFFFF  # 30 fps at 90 kHz
        return frame


async def test_video_times_follow_wrapping_rtp_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "wrap.mkv"
    w = MkvWriter(path, [TrackSpec(WrappingVideo(), "alice video")])
    await w.start()
    await asyncio.sleep(1.0)
    await w.close()
    with av.open(str(path)) as c:
        times = [f.time for p in c.demux() for f in p.decode() if f.time is not None]
    # the frames' own times, from the first: not 13 hours (2**32 / 90 kHz), nor frozen
    assert len(times) > 10 and 0.5 < max(times) < 5.0, times
