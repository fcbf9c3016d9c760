"""The interpretation channels of a :class:`hotline.client.call.Call` (mixed into it).

A listener chooses the channels it hears besides the floor (``listen``, sent to the
server so that the SFU forwards them, and kept here as the client's own filter) and its
floor level (local only, applied at once); an interpreter chooses the channel its audio
goes into (``set_channel``). With ``mix`` or ``mix_out`` the call mixes what the listener
hears (:class:`hotline.client.listenmix.ListenerMix`): kept in memory, written to a WAV
file, or both.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from hotline.client.interpretation import Interpretation, floor_gain
from hotline.client.listenmix import ListenerMix
from hotline.client.signaling import SignalingClient
from hotline.errors import UsageError


class ChannelListener:
    """``interpretation`` (the state), ``mix`` (None unless asked for), :meth:`listen`,
    :meth:`set_floor_level`, :meth:`set_channel`."""

    signaling: SignalingClient
    interpretation: Interpretation
    mix: ListenerMix | None
    _channel: str
    _spawn: Callable[[Coroutine[Any, Any, None]], None]

    def _init_channels(self, listen: list[str] | tuple[str, ...], floor_db: float | None,
                       channel: str, mix: bool, mix_out: Path | None) -> None:
        floor_gain(floor_db)  # a bad level fails here, before anything connects
        self.interpretation = self.signaling.interpretation
        self.interpretation.listening = frozenset(listen)
        self.interpretation.set_floor(floor_db)
        self._channel = channel
        self.mix = ListenerMix(self.interpretation.gain, keep=mix, out=mix_out) \
            if mix or mix_out is not None else None

    async def _enter_channels(self) -> None:
        """After ``joined``, before publishing: ask for the channels chosen and publish
        into the one chosen (an interpreter), with clear errors for what cannot be."""
        if self.mix is not None:
            self._spawn(self.mix.run())
        if self.interpretation.listening:
            await self.listen(sorted(self.interpretation.listening))
        if self._channel:
            await self.set_channel(self._channel)

    async def listen(self, channels: list[str] | tuple[str, ...]) -> None:
        """Hear ``channels`` besides the floor ([]: the floor only), from now on."""
        channels = list(dict.fromkeys(channels))  # each once
        self.interpretation.check(channels)
        self.interpretation.listening = frozenset(channels)  # the filter first: no overlap
        await self.signaling.listen(list(channels))

    def set_floor_level(self, db: float | None) -> None:
        """The floor at ``db`` (0 to -40 dB) or muted (None), at once (local only)."""
        self.interpretation.set_floor(db)

    async def set_channel(self, channel: str) -> None:
        """Publish our audio into ``channel`` ("": the floor); interpreters only."""
        role = self.signaling.role
        if role != "interpreter":
            raise UsageError(f"only an interpreter publishes into a channel; your role in "
                             f"this room is {role or 'unknown'}")
        if channel:
            self.interpretation.check([channel])
        self._channel = channel
        await self.signaling.set_channel(channel)

    def _close_channels(self) -> None:
        if self.mix is not None:
            self.mix.close()


