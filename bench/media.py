"""Pre-encoded media for the load generator, made once and cached in the work directory.

VP8 640x360 at 30 fps, about 620 kbit/s, a keyframe every 60 frames (300 frames, a 10 s
loop), and Opus 32 kbit/s in 20 ms packets: the same shape of load the Janus peer study
used. The load generator only packetizes these frames; no encoder runs under load.
"""

from __future__ import annotations

import fractions
import pickle
from typing import Any

from bench.common import WORK

MEDIA = WORK / "media"
VIDEO = MEDIA / "vp8_640x360.pkl"
AUDIO = MEDIA / "opus_32k.pkl"
FPS = 30


def _encode_video(frames: int = 300, gop: int = 60, kbps: int = 410) -> list[dict[str, Any]]:
    """A moving gradient with a moving band of noise (so the encoder has bits to spend)."""
    import os

    import av

    w, h = 640, 360
    enc = av.CodecContext.create("libvpx", "w")
    enc.width, enc.height, enc.pix_fmt = w, h, "yuv420p"
    enc.framerate = fractions.Fraction(FPS, 1)
    enc.time_base = fractions.Fraction(1, FPS)
    enc.bit_rate = kbps * 1000
    enc.gop_size = gop
    enc.options = {"deadline": "realtime", "cpu-used": "8", "lag-in-frames": "0",
                   "error-resilient": "1", "static-thresh": "0"}
    base = bytes((x // 2 + y // 2) % 256 for y in range(h) for x in range(w))
    chroma = bytes(128 for _ in range(w * h // 4))
    out: list[dict[str, Any]] = []
    for i in range(frames + 5):
        shift = (i * 5) % len(base)
        luma = bytearray(base[shift:] + base[:shift])
        row = (i * 3) % (h - 17)
        luma[row * w:(row + 17) * w] = os.urandom(17 * w)
        frame = av.VideoFrame(w, h, "yuv420p")
        for plane, data, width in zip(frame.planes, (bytes(luma), chroma, chroma),
                                      (w, w // 2, w // 2), strict=True):
            if plane.line_size == width:
                plane.update(data)
            else:  # padded lines
                rows = len(data) // width
                plane.update(b"".join(data[r * width:(r + 1) * width]
                                      + bytes(plane.line_size - width) for r in range(rows)))
        frame.pts = i
        if i % gop == 0:
            frame.pict_type = av.video.frame.PictureType.I
        out += [{"key": bool(p.is_keyframe), "data": bytes(p)} for p in enc.encode(frame)]
    out += [{"key": bool(p.is_keyframe), "data": bytes(p)} for p in enc.encode(None)]
    return out[:frames]


def _encode_audio(packets: int = 250) -> list[bytes]:
    import array
    import math

    import av

    enc = av.CodecContext.create("libopus", "w")
    enc.sample_rate, enc.layout, enc.format, enc.bit_rate = 48000, "mono", "s16", 32000
    enc.options = {"frame_duration": "20", "application": "voip"}
    out: list[bytes] = []
    for i in range(packets):
        pcm = array.array("h", (int(8000 * math.sin(2 * math.pi * 440 * (i * 960 + t) / 48000))
                                for t in range(960)))
        frame = av.AudioFrame(format="s16", layout="mono", samples=960)
        frame.planes[0].update(pcm.tobytes())
        frame.sample_rate, frame.pts = 48000, i * 960
        out += [bytes(p) for p in enc.encode(frame)]
    return out


def load() -> tuple[list[dict[str, Any]], list[bytes]]:
    """(video frames, audio packets), encoding them on first use."""
    if not (VIDEO.exists() and AUDIO.exists()):
        MEDIA.mkdir(parents=True, exist_ok=True)
        video, audio = _encode_video(), _encode_audio()
        VIDEO.write_bytes(pickle.dumps(video))
        AUDIO.write_bytes(pickle.dumps(audio))
        kbps = sum(len(f["data"]) for f in video) * 8 * FPS / len(video) / 1000
        print(f"media: {len(video)} VP8 frames ({kbps:.0f} kbit/s), {len(audio)} Opus packets")
    return pickle.loads(VIDEO.read_bytes()), pickle.loads(AUDIO.read_bytes())


def video_kbps() -> float:
    video, _ = load()
    return sum(len(f["data"]) for f in video) * 8 * FPS / len(video) / 1000


if __name__ == "__main__":
    load()
    print(f"{VIDEO}: {video_kbps():.0f} kbit/s")
