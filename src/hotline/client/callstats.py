"""What a call counts: frames encrypted per slot, and per remote party the frames
decrypted, the failures, the frames dropped on purpose (of someone else in the stream, of
a member not verified here), the time from this device's join to the first decoded frame,
and whether the party is still in the call."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from hotline.client.signaling import SignalingClient
from hotline.crypto.frames import Codec
from hotline.crypto.kid import WRONG_PARTICIPANT, WRONG_SLOT, Slot
from hotline.rtc.e2ee_sender import SendKeys
from hotline.rtc.e2ee_stats import UNVERIFIED
from hotline.rtc.stream_decryptor import StreamDecryptor


class CountingSendKeys(SendKeys):
    """Counts frames per slot after they were encrypted."""

    def __init__(self) -> None:
        super().__init__()
        self._count_lock = threading.Lock()
        self.encrypted: dict[Slot, int] = {}

    def protect(self, slot: Slot, codec: Codec, frame: bytes) -> bytes:
        out = super().protect(slot, codec, frame)
        with self._count_lock:
            self.encrypted[slot] = self.encrypted.get(slot, 0) + 1
        return out


@dataclass
class RemoteStream:
    participant_id: int
    kind: str
    decryptor: StreamDecryptor
    first_frame_at: float | None = None
    frames_decoded: int = 0
    last_frame_at: float | None = None  # loop time of the last frame decoded


@dataclass
class CallStats:
    group_code: str
    group_words: str
    participants: list[str]
    remote: dict[str, dict[str, Any]]
    sent: dict[str, int]
    key_messages_rejected: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    #: Members this device has not verified (no key sealed to them): party, fingerprint,
    #: verdict (new_party, new_device, changed, refused, unpinned).
    unverified: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {"group_code": self.group_code, "group_words": self.group_words,
                "participants": self.participants, "remote": self.remote, "sent": self.sent,
                "key_messages_rejected": self.key_messages_rejected,
                "unverified": self.unverified, **self.extra}


def call_stats(signaling: SignalingClient, send_keys: CountingSendKeys,
               streams: Iterable[RemoteStream], joined_at: float,
               media_restarts: int) -> CallStats:
    """The figures of a call: ``streams`` are every stream received (of the current
    connections and of those a media restart dropped)."""
    names = signaling.names
    remote: dict[str, dict[str, Any]] = {}
    for s in streams:
        name = names.get(s.participant_id, f"participant-{s.participant_id}")
        r = remote.setdefault(name, {"participant_id": s.participant_id,
                                     "video_frames_decrypted": 0,
                                     "audio_frames_decrypted": 0,
                                     "decrypt_failures": 0, "first_frame_ms": None,
                                     "wrong_stream_frames": 0, "unverified_frames": 0,
                                     "_pids": set()})
        r["_pids"].add(s.participant_id)
        r[f"{s.kind}_frames_decrypted"] += s.decryptor.decrypted
        dropped = s.decryptor.dropped()
        # frames of a member not verified here: no key on purpose, not a failure
        r["unverified_frames"] += dropped.pop(UNVERIFIED, 0)
        r["decrypt_failures"] += sum(dropped.values())
        # frames of another participant (or kind) in this participant's stream
        r["wrong_stream_frames"] += (dropped.get(WRONG_PARTICIPANT, 0)
                                     + dropped.get(WRONG_SLOT, 0))
        if s.first_frame_at is not None:
            ms = round((s.first_frame_at - joined_at) * 1000, 1)
            r["first_frame_ms"] = ms if r["first_frame_ms"] is None else min(
                r["first_frame_ms"], ms)
    for r in remote.values():  # a party that left keeps its counts, marked as gone
        r["present"] = any(pid in signaling.present for pid in r.pop("_pids"))
    code = signaling.code
    enc = send_keys.encrypted
    return CallStats(
        group_code=code.digits if code else "", group_words=code.words if code else "",
        participants=sorted(set(names.values())), remote=remote,
        sent={"video_frames": enc.get(Slot.VIDEO, 0), "audio_frames": enc.get(Slot.AUDIO, 0)},
        key_messages_rejected=signaling.rejected_key_messages,
        unverified=[{"participant_id": p.participant_id, "party": p.party,
                     "fingerprint": p.fingerprint, "verdict": p.verdict.value}
                    for p in signaling.unverified.values()],
        extra={"media_restarts": media_restarts} if media_restarts else {})
