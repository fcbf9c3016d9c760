"""Interpretation channels in the SFU: whose audio is forwarded to whom. PURE.

An interpreter's audio is in the channel it last signalled (``set_channel``); everything
else (video, and the audio of everyone else, or of an interpreter in no channel) is the
floor. A subscriber gets the floor and the channels it listens to (``listen``); the
audio of channel C goes only to those listening to C. The SFU routes by this signalled
metadata only: it never reads the media, which stays SFrame ciphertext under the same
per-sender keys whatever the channel.

A copy that must not be forwarded stays subscribed (its m-line stays negotiated) but is
taken off its stream's copies: a change of channel or listen set is a forwarding change,
no renegotiation and no rekey. When a copy is forwarded to again its sequence numbers go
on from the last one sent (as after silence suppressed by Opus DTX: the timestamps show
the time that passed), so the receiver's jitter buffer sees no hole.
"""

from __future__ import annotations

from collections.abc import Iterable

from hotline.sfu.forwarding import ForwardedCopy, PublishedStream, Router


class ChannelRouting:
    """One room's channels: each interpreter's channel and each subscriber's listen set."""

    def __init__(self) -> None:
        self.channel: dict[int, str] = {}  # publisher -> channel of its audio ("": floor)
        self.listening: dict[int, frozenset[str]] = {}  # subscriber -> channels besides floor
        #: Copies not forwarded to now -> the stream's newest sequence when they stopped.
        self._paused: dict[ForwardedCopy, int] = {}

    def receives(self, subscriber: int, stream: PublishedStream) -> bool:
        """Whether ``subscriber`` gets ``stream`` now."""
        if stream.kind != "audio":
            return True
        channel = self.channel.get(stream.publisher, "")
        return channel == "" or channel in self.listening.get(subscriber, frozenset())

    def start(self, copy: ForwardedCopy) -> bool:
        """Forward to ``copy`` if its subscriber gets its stream now; True if it was not
        forwarded to before (the caller may ask for a key frame)."""
        if not self.receives(copy.subscriber, copy.stream):
            return False
        stream = copy.stream
        if not stream.add_copy(copy):
            return False
        paused = self._paused.pop(copy, None)
        if paused is not None and stream.reception.base >= 0:
            skipped = (stream.reception.highest - paused) & 0xFFFF
            copy.seq_offset = (copy.seq_offset - skipped) & 0xFFFF
        return True

    def stop(self, copy: ForwardedCopy) -> None:
        """Forward nothing more to ``copy`` (it stays subscribed)."""
        if copy in copy.stream.copies:
            copy.stream.remove_copy(copy)
            self._paused[copy] = copy.stream.reception.highest

    def update(self, participant_id: int, channel: str | None,
               listening: frozenset[str] | None, routers: Iterable[Router]) -> int:
        """``participant_id``'s channel and/or listen set (None: unchanged) changed:
        :meth:`reroute` the ``routers``. Returns how many copies started or stopped."""
        if channel is not None:
            self.channel[participant_id] = channel
        if listening is not None:
            self.listening[participant_id] = listening
        return self.reroute(routers)

    def reroute(self, routers: Iterable[Router]) -> int:
        """After a change: start or stop each copy the ``routers`` (of subscribers whose
        connection is up) have. Returns how many copies changed."""
        changed = 0
        for router in routers:
            for copy in list(router.subscriptions.values()):
                was = copy in copy.stream.copies
                if self.receives(copy.subscriber, copy.stream):
                    self.start(copy)
                else:
                    self.stop(copy)
                changed += was != (copy in copy.stream.copies)
        return changed

    def forget(self, participant_id: int) -> None:
        """``participant_id`` left: its channel, listen set and paused copies go."""
        self.channel.pop(participant_id, None)
        self.listening.pop(participant_id, None)
        for copy in [c for c in self._paused
                     if participant_id in (c.subscriber, c.stream.publisher)]:
            del self._paused[copy]
