"""Media frames on the wire: codec bytes kept clear, the rest SFrame-protected.

An SFU and the receiver's depacketizer need the first bytes of some codecs' frames.
Those bytes stay in the clear and are authenticated as SFrame metadata::

    wire frame = clear || SFrame(header || ciphertext || tag),  metadata = clear

=======  ===============================================  ======================
codec    clear bytes                                      why
=======  ===============================================  ======================
Opus     1 (the TOC byte)                                 packetizer and FEC/DTX
VP8      10 on key frames (bit 0 of byte 0 is 0), else 3  payload descriptor and
                                                          key-frame dimensions
VP9      0                                                works fully encrypted
=======  ===============================================  ======================

A frame shorter than its clear part is not a valid frame of that codec; it is
refused (``SFrameError``), as is any wire frame that does not authenticate.

:class:`FrameReceiver` holds frames whose KID is not known yet for a short time
(their key message may still be on its way), then drops them. Each frame comes with a
tag of the caller's (what the frame is to the caller: its codec and RTP timestamp, say),
handed back with its plaintext, so that a frame released later is still that frame.
"""

from __future__ import annotations

import enum
from collections import deque
from dataclasses import dataclass, field
from typing import Generic, NamedTuple, TypeVar

from hotline.crypto.sframe import SFrameContext, SFrameHeader, SFrameSender
from hotline.errors import Reason, SFrameError


class Codec(enum.StrEnum):
    OPUS = "opus"
    VP8 = "vp8"
    VP9 = "vp9"


def clear_length(codec: Codec, frame: bytes) -> int:
    """Number of leading bytes of ``frame`` that stay in the clear."""
    if codec is Codec.OPUS:
        n = 1
    elif codec is Codec.VP8:
        if not frame:
            raise SFrameError(Reason.TRUNCATED, "empty VP8 frame")
        n = 10 if frame[0] & 0x01 == 0 else 3
    else:
        n = 0
    if len(frame) < n:
        raise SFrameError(Reason.TRUNCATED, f"{codec} frame shorter than its clear bytes")
    return n


def protect(sender: SFrameSender, codec: Codec, frame: bytes) -> bytes:
    """Encrypt one encoded frame for the wire."""
    n = clear_length(codec, frame)
    clear = frame[:n]
    return clear + sender.encrypt(clear, frame[n:])


def unprotect(context: SFrameContext, codec: Codec, wire: bytes) -> bytes:
    """Decrypt one wire frame back to the encoded frame."""
    n = clear_length(codec, wire)
    clear = wire[:n]
    return clear + context.decrypt(clear, wire[n:])


def frame_kid(codec: Codec, wire: bytes) -> int:
    """The KID of a wire frame, read without any key."""
    return SFrameHeader.decode(wire[clear_length(codec, wire) :]).kid


@dataclass
class ReceiverStats:
    decrypted: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


Tag = TypeVar("Tag")


class _Held(NamedTuple, Generic[Tag]):
    since: float
    kid: int
    wire: bytes
    tag: Tag


class FrameReceiver(Generic[Tag]):
    """Decrypts one incoming stream; frames under an unknown KID wait up to
    ``hold_seconds`` (at most ``max_held`` of them) for their key.

    Every frame is given with a ``tag`` and comes out as ``(tag, plaintext)``, whether at
    once (:meth:`receive`) or once its key is there (:meth:`keys_changed`). Time is passed
    in (``now``, in seconds) so that the class stays pure.
    """

    def __init__(self, context: SFrameContext, codec: Codec, *, hold_seconds: float = 0.5,
                 max_held: int = 64) -> None:
        self._ctx = context
        self._codec = codec
        self._hold = hold_seconds
        self._max_held = max_held
        self._held: deque[_Held[Tag]] = deque()
        self.stats = ReceiverStats()

    @property
    def held(self) -> int:
        return len(self._held)

    def receive(self, wire: bytes, now: float, tag: Tag) -> list[tuple[Tag, bytes]]:
        """Frames ready to decode, in order; failures are counted and dropped."""
        self.expire(now)
        try:
            kid = frame_kid(self._codec, wire)
        except SFrameError as exc:
            self.stats.drop(exc.reason)
            return []
        if not self._ctx.has_decryption_key(kid):
            if len(self._held) >= self._max_held:
                self._held.popleft()
                self.stats.drop("held_overflow")
            self._held.append(_Held(now, kid, wire, tag))
            return []
        return self._decrypt([(tag, wire)])

    def keys_changed(self, now: float) -> list[tuple[Tag, bytes]]:
        """Call after keys were installed: releases held frames that now decrypt."""
        self.expire(now)
        has_key = self._ctx.has_decryption_key
        ready = [(h.tag, h.wire) for h in self._held if has_key(h.kid)]
        self._held = deque(h for h in self._held if not has_key(h.kid))
        return self._decrypt(ready)

    def expire(self, now: float) -> int:
        """Drop held frames older than the hold time; returns how many."""
        dropped = 0
        while self._held and now - self._held[0].since > self._hold:
            self._held.popleft()
            self.stats.drop(Reason.UNKNOWN_KID)
            dropped += 1
        return dropped

    def _decrypt(self, frames: list[tuple[Tag, bytes]]) -> list[tuple[Tag, bytes]]:
        out = []
        for tag, wire in frames:
            try:
                out.append((tag, unprotect(self._ctx, self._codec, wire)))
            except SFrameError as exc:
                self.stats.drop(exc.reason)
                continue
            self.stats.decrypted += 1
        return out
