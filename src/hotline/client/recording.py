"""Recording what a call receives: each remote party's decrypted audio and video in one
Matroska file, ``DIR/NAME-PID.mkv`` (started once every kind the party sends arrived)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from aiortc.contrib.media import MediaRecorder, MediaRelay
from aiortc.mediastreams import MediaStreamTrack


class CallRecorder:
    def __init__(self, directory: Path,
                 spawn: Callable[[Coroutine[Any, Any, None]], None]) -> None:
        self.directory = directory
        self._spawn = spawn
        self._relay = MediaRelay()
        self._recorders: dict[int, MediaRecorder] = {}
        self._tracks: dict[int, list[MediaStreamTrack]] = {}

    def add(self, pid: int, name: str, kinds: set[str],
            track: MediaStreamTrack) -> MediaStreamTrack:
        """Record ``track`` of participant ``pid`` (who sends ``kinds``); returns the
        track for the caller to read instead."""
        tracks = self._tracks.setdefault(pid, [])
        tracks.append(self._relay.subscribe(track))
        if len(tracks) == len(kinds) and pid not in self._recorders:
            self.directory.mkdir(parents=True, exist_ok=True)
            recorder = MediaRecorder(str(self.directory / f"{name}-{pid}.mkv"))
            for t in tracks:
                recorder.addTrack(t)
            self._recorders[pid] = recorder
            self._spawn(recorder.start())
        return self._relay.subscribe(track)

    async def stop(self) -> None:
        for recorder in self._recorders.values():
            with contextlib.suppress(Exception):
                await recorder.stop()
