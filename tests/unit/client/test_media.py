"""What a Python participant sends: synthetic pattern, a media file, or devices."""

from __future__ import annotations

import asyncio
from pathlib import Path

import av
import pytest

from hotline.client.call import Call
from hotline.client.synthetic import PatternTrack
from hotline.crypto.identity import Identity
from hotline.errors import ConfigError


def call(**kw: object) -> Call:
    return Call("http://127.0.0.1:1", Identity.generate(), "room", **kw)  # type: ignore[arg-type]


def test_synthetic_by_default() -> None:
    tracks = call()._media_tracks()
    assert sorted(t.kind for t in tracks) == ["audio", "video"]
    assert all(isinstance(t, PatternTrack) for t in tracks)


def test_synthetic_frames_move() -> None:
    async def two_frames() -> list[bytes]:
        track = PatternTrack("video")
        frames = [await track.recv(), await track.recv()]
        return [bytes(f.planes[0]) for f in frames]  # type: ignore[union-attr]

    first, second = asyncio.run(two_frames())
    assert first != second


def test_media_file(tmp_path: Path) -> None:
    path = tmp_path / "clip.mkv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=30)
        stream.width, stream.height = 160, 120
        for i in range(10):
            frame = av.VideoFrame(160, 120, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([i * 20]) * (plane.line_size * plane.height))
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    tracks = call(media_file=path)._media_tracks()
    assert [t.kind for t in tracks] == ["video"]


@pytest.mark.parametrize("kw", [{"media_file": Path("/nonexistent/clip.mkv")},
                                {"camera": "/dev/video-none"},
                                {"microphone": "hw:99,0"}])
def test_missing_media_is_a_clear_error(kw: dict[str, object]) -> None:
    with pytest.raises(ConfigError, match="cannot open"):
        call(**kw)._media_tracks()
