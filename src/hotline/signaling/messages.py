"""Signaling messages, version 1: frozen, typed, validated once at the boundary.

Every message is one JSON object ``{"v": 1, "type": ..., ...}`` in one WebSocket text
frame of at most :data:`MAX_MESSAGE_BYTES`. :func:`parse_client` and
:func:`parse_server` turn text into a message object or raise
:class:`~hotline.errors.ProtocolError`; :func:`encode` turns a message into text.
Binary fields (keys, signatures, announcements, key messages) are base64url without
padding. The flow is documented in docs/SIGNALING.md.

This module is the one source of the signaling schema, and one file on purpose (it is
longer than our modules usually are): scripts/gen_protocol.py generates from it the JSON
Schema (protocol/schema/signaling.json), the page's types and validators
(web/src/protocol/messages.gen.ts) and the message reference of docs/SIGNALING.md, and
`make web` / `make lint` fail when those are stale. Both sides run the cases of
protocol/conformance/signaling/. Every message class is a few lines; split by topic they
would only scatter the two unions below, which must name every class.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WrapValidator,
)

from hotline.errors import ProtocolError
from hotline.phases import Phase as Phase

# Roles live in hotline.roles; re-exported here for the clients that read them off a message.
from hotline.roles import DEFAULT_ROLE as DEFAULT_ROLE
from hotline.roles import LISTEN_ONLY as LISTEN_ONLY
from hotline.roles import ROLES as ROLES
from hotline.roles import Role as Role
from hotline.signaling.channels import MAX_CHANNELS, MAX_NAME
from hotline.signaling.channels import PATTERN as CHANNEL_PATTERN
from hotline.signaling.turn_urls import PATTERN as TURN_URL_PATTERN

VERSION = 1
MAX_MESSAGE_BYTES = 256 * 1024
_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    if not isinstance(text, str) or len(text) > MAX_MESSAGE_BYTES or not _B64URL.fullmatch(text):
        raise ValueError("not a base64url string")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("not valid base64url") from None


def _b64_validate(value: object, handler: object) -> bytes:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise ValueError("expected a base64url string")
    return b64decode(value)


B64 = Annotated[bytes, WrapValidator(_b64_validate), PlainSerializer(b64encode, return_type=str)]
Name = Annotated[str, Field(min_length=1, max_length=64)]
U32 = Annotated[int, Field(ge=0, le=2**32 - 1)]
#: A count that any JSON reader holds exactly (the page's numbers are doubles: 2**53 - 1).
Count = Annotated[int, Field(ge=0, le=2**53 - 1)]
#: The server's origin as the client knows it (hotline.crypto.auth.origin_of): what a
#: login or enrollment proof is bound to. A plain ASCII form, so it is safe to log.
Origin = Annotated[str, Field(max_length=255,
                              pattern=r"^https?://[a-z0-9.\-]+:[0-9]{1,5}$|"
                                      r"^https?://\[[0-9a-f:.]+\]:[0-9]{1,5}$")]
#: The TLS channel binding a proof includes: none, or RFC 5929 tls-unique (TLS <= 1.2).
ChannelBinding = Literal["", "tls-unique"]
#: An interpretation channel of a room (hotline.signaling.channels): ``ru``, ``pt-br``.
Channel = Annotated[str, Field(max_length=MAX_NAME, pattern=CHANNEL_PATTERN)]
#: The channel an interpreter publishes into, or "" (its audio is floor).
ChannelOrFloor = Annotated[str, Field(max_length=MAX_NAME,
                                      pattern=f"^(|{CHANNEL_PATTERN.strip('^$')})$")]
Channels = Annotated[list[Channel], Field(max_length=MAX_CHANNELS)]



class _Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    v: Literal[1] = 1


# -- client -> server -----------------------------------------------------------------


class Enroll(_Message):
    """Register this device's identity key with a one-time enrollment code."""

    type: Literal["enroll"] = "enroll"
    code: Annotated[str, Field(min_length=1, max_length=64)]
    identity_key: B64
    label: Annotated[str, Field(max_length=64)] = ""
    signature: B64
    origin: Origin
    channel_binding: ChannelBinding = ""


class Auth(_Message):
    """Prove possession of an enrolled identity key (signs the connection's challenge,
    the server's origin as the client knows it and, where it has one, the TLS channel)."""

    type: Literal["auth"] = "auth"
    identity_key: B64
    signature: B64
    origin: Origin
    channel_binding: ChannelBinding = ""


class Join(_Message):
    type: Literal["join"] = "join"
    room: Name


class Announce(_Message):
    """My signed call-key announcement, after :class:`JoinAck`."""

    type: Literal["announce"] = "announce"
    announcement: B64


class SendKey(_Message):
    """A key message for one participant; the server relays it unopened."""

    type: Literal["key"] = "key"
    to: U32
    data: B64


class Leave(_Message):
    type: Literal["leave"] = "leave"


SdpText = Annotated[str, Field(min_length=1, max_length=200_000)]


class Publish(_Message):
    """An SDP offer with the media this participant sends (to the SFU)."""

    type: Literal["publish"] = "publish"
    sdp: SdpText


class SubscribeAnswer(_Message):
    """The SDP answer to the SFU's latest :class:`SubscribeOffer`."""

    type: Literal["subscribe_answer"] = "subscribe_answer"
    sdp: SdpText


# -- a direct (peer-to-peer) connection between the two members of a room -----------------

#: A direct connection's SDP: aiortc's and the browsers' offers for one audio and one
#: video m-line are 3-10 kB; anything much larger is not one.
DirectSdp = Annotated[str, Field(min_length=1, max_length=32_768)]


class DirectDescription(BaseModel):
    """An SDP offer or answer of the direct connection (an RTCSessionDescription: its
    ``type`` is ``kind`` here)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    kind: Literal["offer", "answer"]
    sdp: DirectSdp


class DirectCandidate(BaseModel):
    """One trickled ICE candidate of the direct connection (RTCIceCandidateInit);
    ``candidate`` empty: the end of candidates."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    candidate: Annotated[str, Field(max_length=512)]
    sdp_mid: Annotated[str, Field(max_length=32)] | None = None
    sdp_m_line_index: Annotated[int, Field(ge=0, le=15)] | None = None


class DirectSignal(_Message):
    """For the other member of a two-party room that allows direct connections (a hotline
    call, a link test, a room an operator marked): a description or a candidate of the
    direct connection between us, relayed unopened as :class:`DirectFrom`. Exactly one of
    the two is given. The media on it stays SFrame-encrypted: the server relays what it
    could change, never what it could read."""

    type: Literal["direct_signal"] = "direct_signal"
    to: U32
    description: DirectDescription | None = None
    candidate: DirectCandidate | None = None


# -- hotlines (client -> server): standby, link tests, calls; docs/SIGNALING.md ------------

CallId = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
#: A media path: through the SFU, direct between two ends, or through a TURN relay.
MediaPathKind = Literal["sfu", "direct", "relay"]
Note = Annotated[str, Field(max_length=200)]
Ms = Annotated[float, Field(ge=0, le=3_600_000)]


class StandbyRegister(_Message):
    """Keep this connection ready for hotline NAME: answer link tests, ring on calls."""

    type: Literal["standby"] = "standby"
    hotline: Name
    #: Entries of the hotline's uptime record this endpoint knows (its chain head): the
    #: server sends the rest with ``record_entries``.
    record_length: Count = 0


class LinkTestRequest(_Message):
    """Run one link test of NAME now; the server answers with :class:`LinkTestResult`."""

    type: Literal["linktest_request"] = "linktest_request"
    hotline: Name


class LinkTestFigures(BaseModel):
    """What one end measured during a link test (sent by each end)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    joined: bool
    setup_ms: Ms | None = None  # start of the test -> its media connection to the SFU is up
    first_frame_ms: Ms | None = None  # start of the test -> first decrypted frame from the far end
    video_frames: Annotated[int, Field(ge=0, le=2**31)] = 0  # decrypted from the far end
    audio_frames: Annotated[int, Field(ge=0, le=2**31)] = 0
    decrypt_failures: Annotated[int, Field(ge=0, le=2**31)] = 0
    rtt_ms: Ms | None = None  # round trip to the SFU (RTCP), this end's hop
    loss: Annotated[float, Field(ge=0, le=1)] | None = None  # fraction lost, far end -> me
    jitter_ms: Ms | None = None
    group_code: Annotated[str, Field(max_length=64)] = ""
    error: Note = ""


class LinkTestReport(_Message):
    type: Literal["linktest_report"] = "linktest_report"
    test_id: CallId
    figures: LinkTestFigures
    #: The same figures, signed by this end (hotline.crypto.linkreport; docs/PROTOCOL.md).
    report: Annotated[B64, Field(max_length=2048)] = b""


class HotlineCall(_Message):
    """Ring every standby endpoint of the other party of hotline NAME."""

    type: Literal["hotline_call"] = "hotline_call"
    hotline: Name


class RingAck(_Message):
    """I saw the ring (stops it elsewhere); ``message`` e.g. an ETA for the principal."""

    type: Literal["ring_ack"] = "ring_ack"
    call_id: CallId
    message: Note = ""


class CallAnswer(_Message):
    """Explicit answer: media may start now."""

    type: Literal["call_answer"] = "call_answer"
    call_id: CallId


class Hangup(_Message):
    type: Literal["hangup"] = "hangup"
    call_id: CallId


class HotlineJoin(_Message):
    """Join the media room of a link test or an answered call (then as ``join``)."""

    type: Literal["hotline_join"] = "hotline_join"
    call_id: CallId


class HotlineStatusRequest(_Message):
    """The dashboard's data: every hotline of my party (:class:`HotlineStatus`)."""

    type: Literal["hotline_status_request"] = "hotline_status_request"
    last: Annotated[int, Field(ge=1, le=200)] = 20


HotlineClientMessage = (StandbyRegister | LinkTestRequest | LinkTestReport | HotlineCall
                        | RingAck | CallAnswer | Hangup | HotlineJoin | HotlineStatusRequest)


class Resume(_Message):
    """After ``auth`` on a new connection: take my seat in ``room`` back (the connection
    broke; the server keeps a seat for a few seconds, media and keys included)."""

    type: Literal["resume"] = "resume"
    room: Name
    participant_id: U32
    token: B64
    received: U32  # messages received since ``joined`` (the server replays the rest)


class Ping(_Message):
    type: Literal["ping"] = "ping"


class MediaRestart(_Message):
    """My media path to the SFU died (ICE failed, consent lost, nothing received for too
    long): drop my publish and subscribe connections; I publish and subscribe again on new
    ones. Seat, participant id and keys stay (no roster change, no rekey)."""

    type: Literal["media_restart"] = "media_restart"
    reason: Annotated[str, Field(max_length=200)] = ""


class MediaState(BaseModel):
    """What a participant sends now (metadata the server relays; it cannot check it)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    audio: bool = True
    video: bool = True
    screen: bool = False


class SetMedia(_Message):
    """I muted, unmuted, turned my camera off or on, or started or stopped sharing."""

    type: Literal["media"] = "media"
    state: MediaState


class SetPhase(_Message):
    """Open or close the call in ``room`` (L3: the press is shown out of the closed part).
    From a member of the call whose role is principal or operator, or from an
    authenticated connection outside the call whose party has that role in the room.
    Reopening needs ``proof`` (:mod:`hotline.crypto.phaseproof`, by a principal in the
    call); closing needs none: it only takes keys away."""

    type: Literal["set_phase"] = "set_phase"
    room: Name
    phase: Phase
    proof: Annotated[B64, Field(max_length=128)] = b""
# -- interpretation channels (docs/SIGNALING.md "Interpretation channels") ----------------


class SetChannel(_Message):
    """An interpreter's audio goes into ``channel`` from now on (a channel of the room),
    or is floor again (""). Not a roster change: no epoch, no rekey, the same keys.
    Answered by ``member_channel`` to everyone, this interpreter included."""

    type: Literal["set_channel"] = "set_channel"
    channel: ChannelOrFloor


class Listen(_Message):
    """The channels I receive besides the floor ([]: the floor only). The SFU forwards an
    interpreter's audio of channel C only to those listening to C. Answered by
    ``listening``."""

    type: Literal["listen"] = "listen"
    channels: Channels


# -- recording (L4): a visible recorder, with each principal's signed consent -------------

#: A consent signature (Ed25519, :mod:`hotline.crypto.consent`).
ConsentSignature = Annotated[B64, Field(max_length=128)]


class RecordRequest(_Message):
    """A recorder (role recorder or press) asks the principals to consent to its recording
    of ``phase`` (relayed to every member as :class:`RecordRequested`)."""

    type: Literal["record_request"] = "record_request"
    phase: Phase


class RecordConsent(_Message):
    """A principal's answer to ``recorder``'s request: its signature over the consent
    (:mod:`hotline.crypto.consent`), relayed to every member as :class:`RecordConsentFrom`.
    The server cannot make one: the recorder checks it with the principal's identity key."""

    type: Literal["record_consent"] = "record_consent"
    recorder: U32
    phase: Phase
    phase_epoch: U32
    granted: bool
    signature: ConsentSignature


class SetRecording(_Message):
    """The recorder started (``active``) or stopped writing its file: shown on every
    terminal as "● recorded by NAME" (:class:`MemberRecording`)."""

    type: Literal["recording"] = "recording"
    active: bool


ClientMessage = Annotated[
    Enroll | Auth | Join | Announce | SendKey | Leave | Publish | SubscribeAnswer | Ping
    | SetMedia | SetChannel | Listen | Resume | MediaRestart | DirectSignal | SetPhase
    | HotlineClientMessage | RecordRequest | RecordConsent | SetRecording,
    Field(discriminator="type"),
]

# -- server -> client -----------------------------------------------------------------


class Hello(_Message):
    type: Literal["hello"] = "hello"
    challenge: B64
    server: str


class Enrolled(_Message):
    type: Literal["enrolled"] = "enrolled"
    party: str
    device_id: int


class Welcome(_Message):
    type: Literal["welcome"] = "welcome"
    party: str
    device_id: int
    rooms: list[str]
    roles: dict[str, Role] = {}  # room -> our role in it


class MemberInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    participant_id: U32
    party: str
    identity_key: B64
    announcement: B64
    role: Role = "delegate"
    media: MediaState = MediaState()
    #: The channel this interpreter publishes its audio into ("": its audio is floor).
    channel: ChannelOrFloor = ""
    #: It records the call now (L4: shown as "● recorded by NAME" to late joiners too).
    recording: bool = False


class IceServer(BaseModel):
    """A TURN server for this call's media connections and its time-limited credential
    (TURN REST API: ``username`` is ``<expiry unix time>:<participant>``, ``credential``
    is base64 HMAC-SHA1 of it under the secret the server shares with the TURN server).
    Chosen by the server: a client trusts it for reachability only (SFrame stays on)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    urls: list[Annotated[str, Field(pattern=TURN_URL_PATTERN)]]
    username: Annotated[str, Field(min_length=1, max_length=255)]
    credential: Annotated[str, Field(min_length=1, max_length=255)]


class JoinAck(_Message):
    """Your participant id, the epoch of your join and your role: sign your announcement
    for them."""

    type: Literal["join_ack"] = "join_ack"
    room: str
    participant_id: U32
    epoch: U32
    #: Your role in the room: sign it in your announcement (others check it against
    #: their roster: a server cannot relabel you).
    role: Role = "delegate"


class Joined(_Message):
    """You are in: the others already in the call."""

    type: Literal["joined"] = "joined"
    room: str
    participant_id: U32
    epoch: U32
    members: list[MemberInfo]
    role: Role = "delegate"
    #: Present with ``resume`` on a new connection if this one breaks (keep it secret).
    resume_token: B64 = b""
    #: TURN servers for this call's media connections (none: reach the SFU directly).
    ice_servers: list[IceServer] = []
    #: This room allows a direct connection between its two members (``direct_signal``):
    #: a hotline call or link test, or a room its operator marked. A lying server can only
    #: keep the call on the SFU with it (shown), never let anyone read the media.
    direct: bool = False
    #: The call's phase now, and the epoch it began in (the call's first epoch until a
    #: phase change): in the closed part the press gets no key and no media.
    phase: Phase = "open"
    phase_epoch: U32 = 0
    #: The room's interpretation channels (none: no interpretation).
    channels: Channels = []


class Resumed(_Message):
    """Your seat is yours again; what was sent to you meanwhile follows, in order."""

    type: Literal["resumed"] = "resumed"
    room: str
    participant_id: U32
    epoch: U32
    received: U32  # messages the server got from you since ``joined`` (resend the rest)
    #: Fresh TURN credentials for the media connections made from now on.
    ice_servers: list[IceServer] = []
    phase: Phase = "open"
    phase_epoch: U32 = 0


class MemberJoined(_Message):
    type: Literal["member_joined"] = "member_joined"
    epoch: U32
    member: MemberInfo


class MemberLeft(_Message):
    type: Literal["member_left"] = "member_left"
    epoch: U32
    participant_id: U32


class PhaseChanged(_Message):
    """The call's phase changed: a roster event (the previous epoch + 1), to every
    member. ``by`` is the member who asked (0: an operator outside the call); ``proof``
    its signature when it reopens (:mod:`hotline.crypto.phaseproof`). A client believes
    a reopening only with a valid proof of a principal of its view."""

    type: Literal["phase_changed"] = "phase_changed"
    epoch: U32
    phase: Phase
    by: U32 = 0
    proof: Annotated[B64, Field(max_length=128)] = b""


class MemberMedia(_Message):
    """A participant's :class:`MediaState` changed."""

    type: Literal["member_media"] = "member_media"
    participant_id: U32
    state: MediaState


class MemberChannel(_Message):
    """An interpreter's audio goes into ``channel`` now ("": floor). Metadata the server
    relays and routes by; each client also plays an interpreter's audio only in the
    channel it last heard here."""

    type: Literal["member_channel"] = "member_channel"
    participant_id: U32
    channel: ChannelOrFloor


class Listening(_Message):
    """The channels the SFU forwards to you now besides the floor (your ``listen``)."""

    type: Literal["listening"] = "listening"
    channels: Channels
class RecordRequested(_Message):
    """``participant_id`` (a recorder) asks to record ``phase``, which began in
    ``phase_epoch``: principals answer with ``record_consent``."""

    type: Literal["record_requested"] = "record_requested"
    participant_id: U32
    phase: Phase
    phase_epoch: U32


class RecordConsentFrom(_Message):
    """A :class:`RecordConsent` of member ``from``, relayed as it was sent (``sender`` in
    Python: ``from`` is a keyword; build one with :meth:`relayed`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True,
                              serialize_by_alias=True)
    type: Literal["record_consent_from"] = "record_consent_from"
    sender: U32 = Field(alias="from")
    recorder: U32
    phase: Phase
    phase_epoch: U32
    granted: bool
    signature: ConsentSignature

    @classmethod
    def relayed(cls, sender: int, consent: RecordConsent) -> RecordConsentFrom:
        return cls.model_validate({"from": sender, "recorder": consent.recorder,
                                   "phase": consent.phase, "phase_epoch": consent.phase_epoch,
                                   "granted": consent.granted,
                                   "signature": consent.signature})


class MemberRecording(_Message):
    """``participant_id`` started (``active``) or stopped recording ``phase``."""

    type: Literal["member_recording"] = "member_recording"
    participant_id: U32
    active: bool
    phase: Phase


class KeyFrom(_Message):
    type: Literal["key_from"] = "key_from"
    sender: U32
    data: B64


class Left(_Message):
    type: Literal["left"] = "left"
    room: str


class Pong(_Message):
    type: Literal["pong"] = "pong"


class PublishAnswer(_Message):
    type: Literal["publish_answer"] = "publish_answer"
    sdp: str


class StreamInfo(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)
    mid: str
    participant_id: U32
    kind: Literal["audio", "video"]


class SubscribeOffer(_Message):
    """The SFU offers the others' streams (all of them so far); answer it."""

    type: Literal["subscribe_offer"] = "subscribe_offer"
    sdp: str
    streams: list[StreamInfo]


class MediaRestarted(_Message):
    """Your old media connections are gone: publish again; a new ``subscribe_offer``
    (for a new connection) follows."""

    type: Literal["media_restarted"] = "media_restarted"


class DirectFrom(_Message):
    """A :class:`DirectSignal` of ``sender``, the other member of the room."""

    type: Literal["direct_from"] = "direct_from"
    sender: U32
    description: DirectDescription | None = None
    candidate: DirectCandidate | None = None


class Error(_Message):
    """A request was refused. ``code`` is stable; ``message`` is for people."""

    type: Literal["error"] = "error"
    code: str
    message: str



# -- hotlines (server -> client) ------------------------------------------------------------


class StandbyOk(_Message):
    type: Literal["standby_ok"] = "standby_ok"
    hotline: str
    party: str
    far_party: str
    interval_s: float


class LinkTestStart(_Message):
    """Take part in link test ``test_id`` now: join with ``hotline_join``, send the
    synthetic pattern for ``duration_s``, then send ``linktest_report``."""

    type: Literal["linktest_start"] = "linktest_start"
    hotline: str
    test_id: str
    room: str
    role: Literal["originator", "responder"]
    duration_s: float
    #: The media path to test: through the SFU, directly between the two ends, or
    #: through a TURN relay to the SFU. Each end signs the path it measured.
    path: MediaPathKind = "sfu"


class LinkTestResult(_Message):
    """The outcome of a link test and its figures (as written to the uptime record)."""

    type: Literal["linktest_result"] = "linktest_result"
    hotline: str
    outcome: str
    result: dict[str, object]


class RecordEntries(_Message):
    """Entries ``start``.. of the hotline's uptime record (each as stored, base64url), up
    to the server's last one if ``more`` is false; the standby checks they extend the
    chain head it knows (docs/SIGNALING.md "Record heads")."""

    type: Literal["record_entries"] = "record_entries"
    hotline: str
    start: Count
    entries: list[B64]
    more: bool = False


class Ring(_Message):
    type: Literal["ring"] = "ring"
    hotline: str
    call_id: str
    caller_party: str
    caller_device: str


class RingStop(_Message):
    type: Literal["ring_stop"] = "ring_stop"
    call_id: str
    reason: str


class CallRinging(_Message):
    """To the caller: ``endpoints`` standby endpoints ring."""

    type: Literal["call_ringing"] = "call_ringing"
    hotline: str
    call_id: str
    endpoints: int


class CallAcked(_Message):
    type: Literal["call_acked"] = "call_acked"
    call_id: str
    party: str
    device: str
    message: str


class CallAnswered(_Message):
    """To both ends: join ``room`` with ``hotline_join`` now."""

    type: Literal["call_answered"] = "call_answered"
    call_id: str
    room: str


class CallEnded(_Message):
    type: Literal["call_ended"] = "call_ended"
    call_id: str
    reason: str


class HotlineStatus(_Message):
    """Dashboard data: ``hotlines`` as documented in docs/SIGNALING.md."""

    type: Literal["hotline_status"] = "hotline_status"
    hotlines: list[dict[str, object]]


HotlineServerMessage = (StandbyOk | LinkTestStart | LinkTestResult | Ring | RingStop
                        | CallRinging | CallAcked | CallAnswered | CallEnded | HotlineStatus
                        | RecordEntries)


ServerMessage = Annotated[
    Hello | Enrolled | Welcome | JoinAck | Joined | Resumed | MemberJoined | MemberLeft
    | MemberMedia | KeyFrom | Left | PublishAnswer | SubscribeOffer | MediaRestarted | Pong
    | MemberChannel | Listening
    | DirectFrom | Error | PhaseChanged
    | HotlineServerMessage | RecordRequested | RecordConsentFrom | MemberRecording,
    Field(discriminator="type"),
]

_CLIENT: TypeAdapter[ClientMessage] = TypeAdapter(ClientMessage)
_SERVER: TypeAdapter[ServerMessage] = TypeAdapter(ServerMessage)


def _parse(adapter: TypeAdapter[object], text: str | bytes) -> object:
    if len(text) > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message larger than {MAX_MESSAGE_BYTES} bytes")
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        raise ProtocolError("message is not JSON") from None
    if not isinstance(doc, dict):
        raise ProtocolError("message is not a JSON object")
    version = doc.get("v")
    if type(version) is not int or version != VERSION:
        raise ProtocolError(f"unsupported protocol version {version!r}")
    try:
        return adapter.validate_python(doc)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ProtocolError(f"invalid message: {where}: {first['msg']}") from None


def parse_client(text: str | bytes) -> ClientMessage:
    """Validate one message from a client."""
    return _parse(_CLIENT, text)  # type: ignore[arg-type, return-value]


def parse_server(text: str | bytes) -> ServerMessage:
    """Validate one message from the server."""
    return _parse(_SERVER, text)  # type: ignore[arg-type, return-value]


def encode(message: BaseModel) -> str:
    return message.model_dump_json()
