"""What a call sends: a camera (v4l2) and/or a microphone (ALSA), a media file (looped),
or the synthetic test pattern and tone."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiortc.contrib.media import MediaPlayer
from aiortc.mediastreams import MediaStreamTrack

from hotline.client.synthetic import PatternTrack
from hotline.errors import ConfigError


@dataclass
class MediaSources:
    tracks: list[MediaStreamTrack]
    #: The synthetic tracks among them (none when a device or file is sent).
    patterns: list[PatternTrack] = field(default_factory=list)
    #: The players the tracks come from (kept open for the call).
    players: list[MediaPlayer] = field(default_factory=list)


def open_media(*, camera: str | None, microphone: str | None, media_file: Path | None,
               video_size: tuple[int, int]) -> MediaSources:
    """Open what to send; :class:`~hotline.errors.ConfigError` if it cannot be opened or
    has neither audio nor video."""
    if camera is None and microphone is None and media_file is None:
        patterns = [PatternTrack("audio"), PatternTrack("video", video_size)]
        return MediaSources(list(patterns), patterns)
    out = MediaSources([])
    if media_file is not None:
        player = _player(out, str(media_file), loop=True)
        out.tracks += [t for t in (player.audio, player.video) if t is not None]
    if microphone is not None:
        audio = _player(out, microphone, format="alsa").audio
        out.tracks += [audio] if audio is not None else []
    if camera is not None:
        video = _player(out, camera, format="v4l2",
                        options={"framerate": "30", "video_size": "640x480"}).video
        out.tracks += [video] if video is not None else []
    if not out.tracks:
        raise ConfigError("the chosen media has no audio or video")
    return out


def _player(out: MediaSources, source: str, **kwargs: Any) -> MediaPlayer:
    try:
        player = MediaPlayer(source, **kwargs)
    except Exception as exc:  # av raises many kinds (no device, no permission, ...)
        raise ConfigError(f"cannot open {source}: {exc}") from None
    out.players.append(player)
    return player
