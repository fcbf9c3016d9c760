"""An endpoint's signed link-test report: what it measured, the code it saw, the history
it knows.

Each standby endpoint signs, with its Ed25519 device identity, the figures it measured in
a link test and the group code it computed, bound to the hotline, the test id, its role,
the far end's identity key it saw in the call, and the head of the uptime record it knows
(so each report also co-signs the record's history up to that head). docs/PROTOCOL.md
"Signed link-test reports" defines the bytes; web/src/crypto/linkreport.ts is the twin
and tests/vectors/uptime-v1.json the shared vectors::

    body   = "hotline/v1 linktest report" 0x00 || fields
    fields = bytes8 hotline (UTF-8) || bytes8 test_id (ASCII) || u8 role (1 originator,
             2 responder) || u8 path (1 sfu, 2 direct, 3 relay) || signer_key (32)
             || far_key (32; zeros: none seen)
             || u64 head_length || head_hash (32; zeros if head_length is 0)
             || bytes8 group_code (ASCII) || figures
    figures = u8 joined (0|1) || opt setup_ms || opt first_frame_ms || u32 video_frames
             || u32 audio_frames || u32 decrypt_failures || opt rtt_ms || opt loss
             || opt jitter_ms || bytes16 error (UTF-8)
    opt x  = u8 0 | u8 1 || f64 x (IEEE 754 binary64 big-endian; -0 is written as +0;
             NaN and infinities are refused)
    report = fields || signature (64) over body

Decoding is strict (one encoding per report): any other byte for a flag, a role, -0, NaN,
an infinity, bad UTF-8 or trailing bytes is refused.
"""

from __future__ import annotations

import hashlib
import math
import struct
from dataclasses import dataclass, field, replace

from hotline.crypto.identity import PUBLIC_KEY_SIZE, SIGNATURE_SIZE, Identity, verify
from hotline.crypto.wire import Reader, Writer
from hotline.errors import Reason, ReportError

_LABEL = b"hotline/v1 linktest report\x00"
ROLES = {"originator": 1, "responder": 2}
_ROLE_NAMES = {v: k for k, v in ROLES.items()}
#: The media path a test measured (the signaling ``linktest_start.path``).
PATHS = {"sfu": 1, "direct": 2, "relay": 3}
_PATH_NAMES = {v: k for k, v in PATHS.items()}
NO_KEY = bytes(32)
_NEG_ZERO = struct.pack(">d", -0.0)


@dataclass(frozen=True, slots=True)
class Figures:
    """What one end measured (the fields of the signaling ``LinkTestFigures``)."""

    joined: bool = False
    setup_ms: float | None = None
    first_frame_ms: float | None = None
    video_frames: int = 0
    audio_frames: int = 0
    decrypt_failures: int = 0
    rtt_ms: float | None = None
    loss: float | None = None
    jitter_ms: float | None = None
    error: str = ""

    def as_dict(self) -> dict[str, object]:
        return {name: getattr(self, name) for name in self.__slots__}


FIGURE_NAMES: tuple[str, ...] = tuple(Figures.__slots__)
_FLOATS = ("setup_ms", "first_frame_ms", "rtt_ms", "loss", "jitter_ms")


def _opt(w: Writer, value: float | None) -> None:
    if value is None:
        w.u8(0)
        return
    x = float(value) + 0.0  # -0 -> +0
    if not math.isfinite(x):
        raise ReportError(Reason.MALFORMED, "a figure is not a finite number")
    w.u8(1).raw(struct.pack(">d", x))


def _read_opt(r: Reader) -> float | None:
    flag = r.u8()
    if flag == 0:
        return None
    if flag != 1:
        raise ReportError(Reason.MALFORMED, "bad presence flag")
    raw = r.raw(8)
    x: float = struct.unpack(">d", raw)[0]
    if not math.isfinite(x) or raw == _NEG_ZERO:
        raise ReportError(Reason.MALFORMED, "a figure is not a canonical finite number")
    return x


def _text(raw: bytes, what: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ReportError(Reason.MALFORMED, f"{what} is not UTF-8") from None


@dataclass(frozen=True, slots=True)
class LinkReport:
    hotline: str
    test_id: str
    role: str  # "originator" | "responder"
    signer_key: bytes
    far_key: bytes  # NO_KEY: no far end seen
    head_length: int  # entries of the record the signer knew
    head_hash: bytes  # hash of the last of them (zeros if none)
    group_code: str
    figures: Figures = field(default_factory=Figures)
    signature: bytes = b""
    path: str = "sfu"  # "sfu" | "direct" | "relay": the path this end measured

    def fields_bytes(self) -> bytes:
        if self.role not in ROLES:
            raise ReportError(Reason.MALFORMED, "role is originator or responder")
        if self.path not in PATHS:
            raise ReportError(Reason.MALFORMED, "path is sfu, direct or relay")
        if len(self.signer_key) != PUBLIC_KEY_SIZE or len(self.far_key) != PUBLIC_KEY_SIZE \
                or len(self.head_hash) != 32:
            raise ReportError(Reason.MALFORMED, "a key or hash has the wrong size")
        f = self.figures
        w = (Writer().bytes8(self.hotline.encode()).bytes8(self.test_id.encode("ascii"))
             .u8(ROLES[self.role]).u8(PATHS[self.path]).raw(self.signer_key).raw(self.far_key)
             .u64(self.head_length).raw(self.head_hash)
             .bytes8(self.group_code.encode("ascii")).u8(1 if f.joined else 0))
        _opt(w, f.setup_ms)
        _opt(w, f.first_frame_ms)
        w.u32(f.video_frames).u32(f.audio_frames).u32(f.decrypt_failures)
        _opt(w, f.rtt_ms)
        _opt(w, f.loss)
        _opt(w, f.jitter_ms)
        w.bytes16(f.error.encode())
        return bytes(w)

    def body(self) -> bytes:
        return _LABEL + self.fields_bytes()

    def encode(self) -> bytes:
        return self.fields_bytes() + self.signature

    @property
    def digest(self) -> bytes:
        """SHA-256 of the encoded report (how a standby remembers what it signed)."""
        return hashlib.sha256(self.encode()).digest()

    def signed_by(self, identity: Identity) -> LinkReport:
        unsigned = replace(self, signer_key=identity.public_key, signature=b"")
        return replace(unsigned, signature=identity.sign(unsigned.body()))

    def valid(self) -> bool:
        """The signature verifies under ``signer_key``."""
        return verify(self.signer_key, self.signature, self.body())

    @classmethod
    def decode(cls, raw: bytes) -> LinkReport:
        r = Reader(raw, ReportError)
        hotline = _text(r.bytes8(), "hotline")
        test_id = r.bytes8()
        if not test_id.isascii():
            raise ReportError(Reason.MALFORMED, "test id is not ASCII")
        role = _ROLE_NAMES.get(r.u8())
        if role is None:
            raise ReportError(Reason.MALFORMED, "role is neither originator nor responder")
        path = _PATH_NAMES.get(r.u8())
        if path is None:
            raise ReportError(Reason.MALFORMED, "path is neither sfu, direct nor relay")
        signer, far = r.raw(PUBLIC_KEY_SIZE), r.raw(PUBLIC_KEY_SIZE)
        head_length, head_hash = r.u64(), r.raw(32)
        code = r.bytes8()
        if not code.isascii():
            raise ReportError(Reason.MALFORMED, "group code is not ASCII")
        joined = r.u8()
        if joined not in (0, 1):
            raise ReportError(Reason.MALFORMED, "bad boolean")
        setup, first = _read_opt(r), _read_opt(r)
        video, audio, failures = r.u32(), r.u32(), r.u32()
        rtt, loss, jitter = _read_opt(r), _read_opt(r), _read_opt(r)
        error = _text(r.bytes16(), "error")
        signature = r.raw(SIGNATURE_SIZE)
        r.end()
        figures = Figures(bool(joined), setup, first, video, audio, failures, rtt, loss,
                          jitter, error)
        return cls(hotline, test_id.decode("ascii"), role, signer, far, head_length,
                   head_hash, code.decode("ascii"), figures, signature, path)


def _as_float(value: object) -> object:
    """A JSON number as the float it encodes (0.0 for -0.0); anything else unchanged."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return float(value) + 0.0
        except OverflowError:
            return value
    return value


def figures_from(values: dict[str, object]) -> Figures:
    """The :class:`Figures` of a dict with the same field names (unknown names ignored;
    values are not checked: compare with :func:`same_figures`)."""
    out = {n: (_as_float(values[n]) if n in _FLOATS else values[n])
           for n in FIGURE_NAMES if n in values}
    return Figures(**out)  # type: ignore[arg-type]


def same_figures(a: Figures, b: Figures) -> bool:
    """Equal as encoded (so -0 equals +0; a boolean is not a number)."""
    def norm(f: Figures) -> tuple[object, ...]:
        return tuple((type(v).__name__ if isinstance(v, bool) else "", _as_float(v)
                      if n in _FLOATS else v) for n, v in ((n, getattr(f, n))
                                                            for n in FIGURE_NAMES))
    return norm(a) == norm(b)
