"""The uptime record: an append-only, hash-chained log whose entries are signed.

Each entry names its sequence number, time, kind (a link test result, a call, an
alarm, ...), the hotline it is about, a JSON object of metadata, the hash of the
previous entry, and the public key of the node that wrote it, and carries that node's
Ed25519 signature::

    body  = "hotline/v1 uptime log" 0x00 || u64 seq || u64 time_ms || bytes8 kind
            || bytes8 hotline || bytes16 data (canonical JSON, UTF-8)
            || prev_hash (32) || writer_key (32)
    entry = body || signature (64) over body
    hash  = SHA-256(entry)

The first entry's ``prev_hash`` is 32 zero bytes. :func:`verify_chain` finds the first
entry that was altered, removed, inserted or reordered, or signed by a key that is not
trusted. Nothing secret goes in: metadata only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hotline.crypto.identity import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Identity, verify
from hotline.crypto.wire import Reader, Writer
from hotline.errors import LogError, Reason

_LABEL = b"hotline/v1 uptime log\x00"
GENESIS = bytes(32)


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """Sorted keys, no spaces, UTF-8: the same object always gives the same bytes."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


@dataclass(frozen=True, slots=True)
class LogEntry:
    seq: int
    time_ms: int
    kind: str
    hotline: str
    data: bytes  # canonical JSON
    prev_hash: bytes
    writer_key: bytes
    signature: bytes

    def body(self) -> bytes:
        return _LABEL + bytes(
            Writer().u64(self.seq).u64(self.time_ms).bytes8(self.kind.encode())
            .bytes8(self.hotline.encode()).bytes16(self.data).raw(self.prev_hash)
            .raw(self.writer_key))

    def encode(self) -> bytes:
        return self.body()[len(_LABEL):] + self.signature

    @property
    def hash(self) -> bytes:
        return hashlib.sha256(self.body() + self.signature).digest()

    @property
    def fields(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.data)
        return value

    @classmethod
    def decode(cls, raw: bytes) -> LogEntry:
        r = Reader(raw, LogError)
        seq, time_ms = r.u64(), r.u64()
        try:
            kind, hotline = r.bytes8().decode(), r.bytes8().decode()
        except UnicodeDecodeError:
            raise LogError(Reason.MALFORMED, "kind or hotline is not UTF-8") from None
        data, prev, writer, sig = r.bytes16(), r.raw(32), r.raw(PUBLIC_KEY_SIZE), r.raw(
            SIGNATURE_SIZE)
        r.end()
        return cls(seq, time_ms, kind, hotline, data, prev, writer, sig)


def append(writer: Identity, previous: LogEntry | None, *, kind: str, hotline: str,
           data: Mapping[str, Any], time_ms: int) -> LogEntry:
    """The next entry after ``previous`` (None: the first), signed by ``writer``."""
    unsigned = LogEntry(
        seq=0 if previous is None else previous.seq + 1, time_ms=time_ms, kind=kind,
        hotline=hotline, data=canonical_json(data),
        prev_hash=GENESIS if previous is None else previous.hash,
        writer_key=writer.public_key, signature=b"")
    return LogEntry(unsigned.seq, unsigned.time_ms, kind, hotline, unsigned.data,
                    unsigned.prev_hash, unsigned.writer_key, writer.sign(unsigned.body()))


@dataclass(frozen=True, slots=True)
class ChainReport:
    entries: int
    first_bad: int | None  # index of the first entry that fails, None if all good
    reason: str

    @property
    def ok(self) -> bool:
        return self.first_bad is None


def verify_chain(entries: Iterable[LogEntry], trusted: Iterable[bytes]) -> ChainReport:
    """Check sequence, hash links, signatures and writers of the whole chain."""
    keys = set(trusted)
    prev_hash, count = GENESIS, 0
    for i, entry in enumerate(entries):
        count = i + 1
        problem = None
        if entry.seq != i:
            problem = f"sequence {entry.seq} where {i} was expected (removed or reordered)"
        elif entry.prev_hash != prev_hash:
            problem = "does not link to the previous entry (altered, removed or inserted)"
        elif entry.writer_key not in keys:
            problem = "written by a key that is not trusted"
        elif not verify(entry.writer_key, entry.signature, entry.body()):
            problem = "signature does not verify (altered)"
        else:
            try:
                json.loads(entry.data)
            except ValueError:
                problem = "metadata is not JSON"
        if problem is not None:
            return ChainReport(count, i, problem)
        prev_hash = entry.hash
    return ChainReport(count, None, "ok")
