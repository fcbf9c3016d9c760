"""What media E2EE protects, and how it counts what it could not.

Shared by the sending side (:mod:`.e2ee_sender`) and the receiving side
(:mod:`.stream_decryptor`): the codecs protected, the drop reasons of our own (next to
the SFrame :class:`~hotline.errors.Reason` codes) and the counters behind
:class:`E2eeStats`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hotline.crypto.frames import Codec

#: MIME types (lower case) protected, and how. Any other codec has every frame dropped.
CODECS: dict[str, Codec] = {"audio/opus": Codec.OPUS, "video/vp8": Codec.VP8}

# Drop reasons of our own, next to the SFrame ``Reason`` codes.
UNSUPPORTED_CODEC = "unsupported_codec"
NOT_PROTECTED = "not_protected"
INTERNAL_ERROR = "internal_error"
#: A frame of a member this device has not verified: it has, on purpose, no key for it.
UNVERIFIED = "unverified"


@dataclass(frozen=True)
class E2eeStats:
    """Counters of one :class:`~hotline.rtc.media_e2ee.MediaE2ee` (a snapshot)."""

    frames_encrypted: int = 0
    frames_decrypted: int = 0
    encrypt_failures: dict[str, int] = field(default_factory=dict)
    decrypt_failures: dict[str, int] = field(default_factory=dict)
    frames_held: int = 0


def add_count(counts: dict[str, int], reason: str, n: int = 1) -> None:
    key = str(reason)  # a Reason becomes its plain value
    counts[key] = counts.get(key, 0) + n


class SendCounters:
    """Frames encrypted and failures of one call's senders (encoder threads share it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.encrypted = 0
        self.failures: dict[str, int] = {}

    def ok(self) -> None:
        with self._lock:
            self.encrypted += 1

    def fail(self, reason: str) -> None:
        with self._lock:
            add_count(self.failures, reason)

    def snapshot(self) -> tuple[int, dict[str, int]]:
        with self._lock:
            return self.encrypted, dict(self.failures)
