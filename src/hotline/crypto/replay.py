"""Replay window for received SFrame counters (RFC 9605 §9.3 leaves it to us).

A sliding bitmap per key: a counter is accepted once; a counter within ``size``
below the highest accepted one is accepted if not seen yet (reordering); anything
older is refused. ``check`` runs before decryption and changes nothing; ``accept``
runs only after the frame authenticated, so forged frames cannot move the window.
"""

from __future__ import annotations

from hotline.errors import Reason, SFrameError

DEFAULT_WINDOW = 256


class ReplayWindow:
    __slots__ = ("_bits", "_highest", "size")

    def __init__(self, size: int = DEFAULT_WINDOW) -> None:
        if size < 1:
            raise ValueError("replay window size must be positive")
        self.size = size
        self._highest = -1
        self._bits = 0  # bit i set: counter (highest - i) was accepted

    def check(self, ctr: int) -> None:
        """Raise :class:`SFrameError` if ``ctr`` was seen or is too old."""
        if ctr > self._highest:
            return
        offset = self._highest - ctr
        if offset >= self.size:
            raise SFrameError(Reason.TOO_OLD, "counter below the replay window")
        if self._bits >> offset & 1:
            raise SFrameError(Reason.REPLAYED, "counter already received")

    def accept(self, ctr: int) -> None:
        """Record ``ctr`` as received (call after ``check`` and authentication)."""
        if ctr > self._highest:
            shift = ctr - self._highest
            # Never shift by more than the window: counters may jump by 2**64.
            kept = self._bits << shift if shift < self.size else 0
            self._bits = (kept | 1) & ((1 << self.size) - 1)
            self._highest = ctr
        else:
            self._bits |= 1 << (self._highest - ctr)
