"""The Python client's signaling side: connect, enroll or authenticate, join, keys.

:class:`SignalingClient` speaks the server's WebSocket protocol
(:mod:`hotline.signaling.messages`), runs this participant's
:class:`~hotline.crypto.keyschedule.KeySchedule` and applies its actions to a
:class:`~hotline.crypto.mediakeys.MediaKeys`, which the media layer uses to encrypt and
decrypt frames. Events for the application (joined, member joined/left, keys
rotated, group code changed, errors) arrive on :attr:`SignalingClient.events`.

Whom keys are sealed to is this client's decision, not the server's: every roster member
goes through the client's :class:`~hotline.client.trustpolicy.TrustPolicy`. A member
this device has not verified is listed in :attr:`SignalingClient.unverified` (event
``unverified``) and gets no key until :meth:`SignalingClient.accept`; in a hotline's
call or link test a key that is not pinned sets :attr:`SignalingClient.pin_failure`
(event ``pin_mismatch``) and the call is to be ended.

The connection itself (the WebSocket, messages in order, ``resume`` after a break) is
its base, :class:`~hotline.client.connection.SignalingConnection`; a refused request
raises the :class:`~hotline.errors.ServerError` of the code the server sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import ssl
from collections.abc import Callable

from hotline.client.connection import ClientEvent, SignalingConnection, trust
from hotline.client.consentgate import RecordingView, answer
from hotline.client.interpretation import Interpretation
from hotline.client.phase import PhaseView
from hotline.client.trust import Verdict
from hotline.client.trustpolicy import Presented, TrustPolicy, UntrustedKey
from hotline.crypto.auth import Purpose, prove
from hotline.crypto.callkey import CallKeyPair, Kem
from hotline.crypto.groupcode import GroupCode
from hotline.crypto.identity import Identity, fingerprint
from hotline.crypto.keyschedule import (
    Event,
    GroupCodeChanged,
    GroupCodePending,
    InstallDecryptionKey,
    KeyMessageReceived,
    KeySchedule,
    KeyScheduleConfig,
    Member,
    PeerAccepted,
    PhaseRefused,
    TimerFired,
)
from hotline.crypto.keyschedule import Joined as KsJoined
from hotline.crypto.keyschedule import MemberJoined as KsMemberJoined
from hotline.crypto.keyschedule import MemberLeft as KsMemberLeft
from hotline.crypto.keyschedule import PhaseChanged as KsPhaseChanged
from hotline.crypto.mediakeys import MediaKeys
from hotline.errors import CryptoError, HotlineError, ProtocolError, UsageError
from hotline.logtext import safe
from hotline.signaling import messages as m

__all__ = ["HOTLINE_MESSAGES", "ClientEvent", "SignalingClient", "trust"]  # trust: a CA file
log = logging.getLogger("hotline.client")
HOTLINE_MESSAGES = (m.StandbyOk, m.LinkTestStart, m.LinkTestResult, m.Ring, m.RingStop,
                    m.CallRinging, m.CallAcked, m.CallAnswered, m.CallEnded, m.HotlineStatus,
                    m.RecordEntries)


class SignalingClient(SignalingConnection):
    """A participant: requests, the room's roster, the key schedule, whom to trust."""

    def __init__(self, server: str, identity: Identity, *, kem: Kem = Kem.X25519,
                 rekey_interval: float = 600.0, grace: float = 1.0,
                 clock: Callable[[], float] | None = None,
                 ssl_context: ssl.SSLContext | None = None,
                 allow_insecure: bool | None = None,
                 trust: TrustPolicy | None = None) -> None:
        super().__init__(server, identity, ssl_context=ssl_context,
                         allow_insecure=allow_insecure)
        #: Whom this device seals keys to (default: nobody it has not verified).
        self.trust = trust if trust is not None else TrustPolicy()
        #: Members of the current room this device has not verified (no key sealed).
        self.unverified: dict[int, Presented] = {}
        #: Set in a hotline's room when the far end's key is not the pinned one.
        self.pin_failure: UntrustedKey | None = None
        self.kem = kem
        self._rekey_interval, self._grace = rekey_interval, grace
        self._clock = clock
        self.party = ""
        self.rooms: list[str] = []
        self.room = ""
        self.participant_id: int | None = None
        self.schedule: KeySchedule | None = None
        self.keys = MediaKeys()
        self.names: dict[int, str] = {}  # participant id -> party name
        self.identity_keys: dict[int, bytes] = {}  # participant id -> identity key listed
        self.roles: dict[int, str] = {}  # participant id -> role in the room
        self.media: dict[int, m.MediaState] = {}  # participant id -> what it sends
        self.role = ""  # ours, in the room joined
        self.present: set[int] = set()  # participant ids in the room now, ours included
        #: The call's phase as this client believes it (hotline.client.phase).
        self.phases = PhaseView()
        #: The room's interpretation channels, each interpreter's, and what we listen to.
        self.interpretation = Interpretation()
        #: Who records the call, requests and consents (hotline.client.consentgate).
        self.recordings = RecordingView()
        #: Called after the roster changed (a direct connection needs exactly two).
        self.on_roster: Callable[[], None] | None = None
        #: Called with each ``direct_from`` (the direct connection's signals), in order.
        self.on_direct: Callable[[m.DirectFrom], None] | None = None
        self.rejected_key_messages = 0
        self._timer: asyncio.Task[None] | None = None
        self._joined = asyncio.Event()
        #: Called after key actions were applied (the media layer re-checks held frames).
        self.on_keys_changed: Callable[[], None] | None = None
        #: Called with each subscribe offer from the SFU (the media layer answers it),
        #: and with ``media_restarted``, in the order they came.
        self.on_subscribe_offer: Callable[[m.SubscribeOffer | m.MediaRestarted], None] | None = None
        #: Hotline messages (standby, link tests, ringing, calls) and errors, in order,
        #: for :mod:`hotline.client.hotline.standby` and :mod:`hotline.client.hotline.caller`.
        self.hotline: asyncio.Queue[m.ServerMessage] = asyncio.Queue()

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    async def close(self) -> None:
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._timer
        await super().close()


    # -- requests --------------------------------------------------------------------------

    async def enroll(self, code: str, label: str = "") -> str:
        """Register this identity with a one-time code; returns the party name."""
        self._send(m.Enroll(code=code, identity_key=self.identity.public_key, label=label,
                            origin=self.origin,
                            channel_binding="tls-unique" if self._binding else "",
                            signature=prove(self.identity, Purpose.ENROLL, self._challenge,
                                            code, origin=self.origin,
                                            channel_binding=self._binding)))
        reply = await self._reply(m.Enrolled)
        assert isinstance(reply, m.Enrolled)
        self.party = reply.party
        return reply.party

    async def authenticate(self) -> list[str]:
        """Sign this connection's challenge; returns the rooms of our party."""
        self._send(self._auth())
        reply = await self._reply(m.Welcome)
        assert isinstance(reply, m.Welcome)
        self.party, self.rooms = reply.party, reply.rooms
        return reply.rooms

    async def join(self, room: str, timeout: float = 10.0,
                   request: m.HotlineJoin | None = None) -> None:
        """Join ``room``: announce our call key, get the roster, start the key schedule.
        A hotline's test or call room is entered with ``request`` instead of ``join``."""
        self.room = room
        self.schedule = KeySchedule(
            self.identity, CallKeyPair.generate(self.kem),
            KeyScheduleConfig(room_id=room, rekey_interval=self._rekey_interval,
                              grace=self._grace, allowed_kems=frozenset({self.kem})),
            trusted=self._decide)
        self.unverified.clear()
        self.pin_failure = None
        self._joined.clear()
        self._send(request if request is not None else m.Join(room=room))
        ack = await self._reply(m.JoinAck, timeout=timeout)
        assert isinstance(ack, m.JoinAck)
        if ack.room != room:  # our announcement is for the room we asked for, no other
            self._stop_schedule()
            raise ProtocolError(f"the server answered a join of {room!r} with another room")
        ann = self.schedule.announcement(ack.participant_id, ack.epoch, ack.role)
        self._send(m.Announce(announcement=ann.encode()))
        await self._reply(m.Joined, timeout=timeout)
        await asyncio.wait_for(self._joined.wait(), timeout)

    async def publish(self, offer_sdp: str, timeout: float = 15.0) -> str:
        """Send our media offer to the SFU; returns its answer."""
        self._send(m.Publish(sdp=offer_sdp))
        reply = await self._reply(m.PublishAnswer, timeout=timeout)
        assert isinstance(reply, m.PublishAnswer)
        return reply.sdp

    def set_media(self, audio: bool, video: bool, screen: bool = False) -> None:
        """Tell the room what we send now (mute, camera off, screen share)."""
        state = m.MediaState(audio=audio, video=video, screen=screen)
        if self.participant_id is not None:
            self.media[self.participant_id] = state
        self._send(m.SetMedia(state=state))

    async def set_phase(self, phase: m.Phase, room: str | None = None,
                        timeout: float = 10.0) -> None:
        """Close or reopen the call (``set_phase``): in it (reopening signs the proof), or
        from outside it (``room`` given: an operator's or principal's device). Returns
        once the server announced the change; a refusal raises its ServerError."""
        proof = b""
        if room is None:
            room = self.room
            if self.participant_id is None or self.schedule is None:
                raise UsageError("not in a call")
            if phase == "open":
                proof = self.schedule.phase_proof("open")
        self._send(m.SetPhase(room=room, phase=phase, proof=proof))
        if self.participant_id is None:  # from outside: no roster event comes to us
            self._send(m.Ping())
            await self._reply(m.Pong, timeout=timeout)
        else:  # the change comes back to us; an older one may be queued before it
            while (await self._reply(m.PhaseChanged, timeout=timeout)).phase != phase:  # type: ignore[union-attr]
                pass
    async def set_channel(self, channel: str, timeout: float = 10.0) -> None:
        """Publish our audio into ``channel`` ("": the floor); an interpreter only."""
        self._send(m.SetChannel(channel=channel))
        await self._reply(m.MemberChannel, timeout=timeout)

    async def listen(self, channels: list[str], timeout: float = 10.0) -> list[str]:
        """Ask the SFU for these channels besides the floor; returns what it sends now."""
        self._send(m.Listen(channels=channels))
        reply = await self._reply(m.Listening, timeout=timeout)
        assert isinstance(reply, m.Listening)
        return list(reply.channels)

    def consent_recording(self, request: m.RecordRequested, granted: bool) -> None:
        """Answer a recorder's request, signed by this device (a principal's consent), only
        for the phase this client is in (a server cannot collect a consent in advance for a
        later phase)."""
        if self.participant_id is None or request.participant_id not in self.identity_keys:
            raise UsageError("no such recorder in the call")
        if (request.phase, request.phase_epoch) != (self.phases.phase, self.phases.epoch):
            raise UsageError(f"the request is for the {request.phase} part from epoch "
                             f"{request.phase_epoch}, but this call is {self.phases.phase} "
                             f"since epoch {self.phases.epoch}: not signed")
        self._send(answer(self.identity, self.room, self.participant_id, request,
                          self.identity_keys[request.participant_id], granted))

    def request_media_restart(self, reason: str = "") -> None:
        """Ask the SFU for new media connections (``media_restarted`` comes back through
        :attr:`on_subscribe_offer`)."""
        self._send(m.MediaRestart(reason=reason[:200]))

    def send_direct(self, to: int, *, description: m.DirectDescription | None = None,
                    candidate: m.DirectCandidate | None = None) -> None:
        """A signal of the direct connection to participant ``to`` (``direct_signal``)."""
        self._send(m.DirectSignal(to=to, description=description, candidate=candidate))

    def _roster_changed(self) -> None:
        if self.on_roster is not None:
            self.on_roster()

    def answer_subscription(self, answer_sdp: str) -> None:
        self._send(m.SubscribeAnswer(sdp=answer_sdp))

    async def leave(self) -> None:
        self._send(m.Leave())
        await self._reply(m.Left)
        self._stop_schedule()

    def _stop_schedule(self) -> None:
        self._seat = None  # nothing to resume after a leave
        if self._timer is not None:
            self._timer.cancel()
        self.schedule, self.participant_id = None, None

    @property
    def code(self) -> GroupCode | None:
        return self.keys.code

    # -- trust: the client decides whom it seals keys to -----------------------------------

    def _decide(self, member: Member) -> bool:
        known = self.unverified.get(member.participant_id)
        if known is not None and known.fingerprint == fingerprint(member.identity_key):
            return False  # decided and shown already
        p = self.trust.decide(member.participant_id, member.party, member.identity_key,
                              own_party=self.party)
        if p.trusted:
            return True
        self.unverified[member.participant_id] = p
        if p.hotline is not None:
            self.pin_failure = self.pin_failure or UntrustedKey(p)
            self._event("pin_mismatch", participant_id=p.participant_id, party=p.party,
                        presented=p.fingerprint, expected=list(p.expected),
                        hotline=p.hotline, message=str(UntrustedKey(p)))
        else:
            self._event("unverified", participant_id=p.participant_id, party=p.party,
                        fingerprint=p.fingerprint, verdict=p.verdict.value)
        return False

    def accept(self, participant_id: int) -> None:
        """The user verified this member's device: remember it, and rekey so that it gets
        a fresh key."""
        p = self.unverified.get(participant_id)
        if p is None:
            raise UsageError(f"participant {participant_id} is not waiting for a decision")
        self.trust.accept(p.party, p.fingerprint)
        del self.unverified[participant_id]
        self._feed(PeerAccepted(self._now(), participant_id))
        self._event("accepted", participant_id=participant_id, party=p.party,
                    fingerprint=p.fingerprint)

    def refuse(self, participant_id: int) -> None:
        """The user refused this device: remembered; it stays at zero keys."""
        p = self.unverified.get(participant_id)
        if p is None:
            raise UsageError(f"participant {participant_id} is not waiting for a decision")
        self.trust.refuse(p.party, p.fingerprint)
        self.unverified[participant_id] = Presented(p.participant_id, p.party, p.fingerprint,
                                                    Verdict.REFUSED)
        self._event("refused", participant_id=participant_id, party=p.party,
                    fingerprint=p.fingerprint)

    # -- what the reader hands over: roster events and key messages go to the key schedule


    def _dispatch(self, message: m.ServerMessage) -> None:
        match message:
            case m.Joined() if message.room != self.room:  # refused: join() fails at once
                self._replies.put_nowait(ProtocolError("joined another room than asked"))
            case m.Joined():
                self._take_seat(self.room, message.participant_id, message.resume_token)
                self.ice_servers = list(message.ice_servers)
                self.participant_id = message.participant_id
                self.names = {i.participant_id: i.party for i in message.members}
                self.identity_keys = {i.participant_id: i.identity_key for i in message.members}
                self.names[message.participant_id] = self.party
                self.roles = {i.participant_id: i.role for i in message.members}
                self.roles[message.participant_id] = self.role = message.role
                self.media = {i.participant_id: i.media for i in message.members}
                self.interpretation.channels = list(message.channels)
                self.interpretation.member_channel = {
                    i.participant_id: i.channel for i in message.members if i.channel}
                self.present = {message.participant_id, *self.names}
                self.phases.joined(message.phase, message.phase_epoch)
                self.recordings.joined(message.members)
                self._feed(KsJoined(self._now(), message.epoch, message.participant_id,
                                    tuple(self._member(i) for i in message.members),
                                    phase=message.phase))
                self._timer = asyncio.create_task(self._timer_loop())
                self._joined.set()
                self._event("joined", participant_id=message.participant_id,
                            epoch=message.epoch)
                self._replies.put_nowait(message)
                self._roster_changed()
            case m.MemberJoined():
                self.names[message.member.participant_id] = message.member.party
                self.identity_keys[message.member.participant_id] = message.member.identity_key
                self.roles[message.member.participant_id] = message.member.role
                self.media[message.member.participant_id] = message.member.media
                self.interpretation.member_channel[message.member.participant_id] = \
                    message.member.channel
                self._feed(KsMemberJoined(self._now(), message.epoch,
                                          self._member(message.member)))
                self._event("member_joined", participant_id=message.member.participant_id,
                            party=message.member.party)
                self.present.add(message.member.participant_id)
                self.recordings.member_joined(message.member)
                self._roster_changed()
            case m.MemberLeft():
                self.unverified.pop(message.participant_id, None)
                self._feed(KsMemberLeft(self._now(), message.epoch, message.participant_id))
                self._event("member_left", participant_id=message.participant_id,
                            party=self.names.get(message.participant_id, "?"))
                self.present.discard(message.participant_id)
                self.recordings.member_left(message.participant_id)
                self._roster_changed()
            case m.RecordRequested() | m.RecordConsentFrom() | m.MemberRecording():
                self.recordings.handle(message)
            case m.PhaseChanged():
                self._phase_changed(message)
            case m.MemberChannel():
                self.interpretation.member_channel[message.participant_id] = message.channel
                self._event("member_channel", participant_id=message.participant_id,
                            channel=message.channel)
                if message.participant_id == self.participant_id:
                    self._replies.put_nowait(message)  # the answer to our set_channel
            case m.MemberMedia():
                if message.participant_id in self.names:
                    self.media[message.participant_id] = message.state
                    self._event("member_media", participant_id=message.participant_id,
                                audio=message.state.audio, video=message.state.video,
                                screen=message.state.screen)
            case m.KeyFrom():
                self._feed(KeyMessageReceived(self._now(), message.data))
            case m.DirectFrom():
                if self.on_direct is not None:
                    self.on_direct(message)
            case m.SubscribeOffer() | m.MediaRestarted():
                if self.on_subscribe_offer is not None:
                    self.on_subscribe_offer(message)
            case _ if isinstance(message, HOTLINE_MESSAGES):
                self.hotline.put_nowait(message)
            case _:
                self._replies.put_nowait(message)
                if isinstance(message, m.Error):
                    self._event("error", code=message.code, message=message.message)
                    self.hotline.put_nowait(message)

    def _phase_changed(self, msg: m.PhaseChanged) -> None:
        """A phase change: to the key schedule (a roster event, which decides whether a
        reopening is proven), then shown as the key schedule holds it."""
        self._feed(KsPhaseChanged(self._now(), msg.epoch, msg.phase, by=msg.by,
                                  proof=msg.proof))
        held = self.schedule.phase if self.schedule is not None else msg.phase
        if msg.phase == "open" and held != "open":
            text = (f"the server says participant {msg.by} reopened the call, without a valid "
                    "phase proof of a principal of this call: it stays CLOSED")
            self.phases.alarm(text)
            log.warning("%s", text)
            self._event("phase_alarm", epoch=msg.epoch, by=msg.by, message=text)
        elif self.phases.take(msg.phase, msg.epoch, self._now()):
            self._event("phase", phase=msg.phase, epoch=msg.epoch, by=msg.by,
                        shown_out=msg.phase == "closed" and self.role == "press")
        self._replies.put_nowait(msg)

    @staticmethod
    def _member(info: m.MemberInfo) -> Member:
        return Member(info.participant_id, info.identity_key, info.announcement, info.party,
                      info.role)

    def _feed(self, event: Event) -> None:
        if self.schedule is None:
            return
        try:
            actions = self.schedule.handle(event)
        except CryptoError as exc:  # a refused key message: count it and go on
            self.rejected_key_messages += 1
            log.info("key message refused: %s", exc.reason)
            self._event("key_rejected", reason=exc.reason.value)
            return
        except HotlineError as exc:
            log.warning("roster event refused: %s", safe(exc))
            self._event("error", code="roster", message=str(exc))
            return
        for out in self.keys.apply(actions):
            self._send(m.SendKey(to=out.recipient, data=out.data))
        if self.on_keys_changed is not None and actions:
            self.on_keys_changed()
        for action in actions:
            if isinstance(action, GroupCodeChanged):
                self._event("group_code", digits=action.code.digits, words=action.code.words,
                            epoch=action.epoch)
            elif isinstance(action, GroupCodePending):
                self._event("group_code_pending", epoch=action.epoch)
            elif isinstance(action, InstallDecryptionKey):
                self._event("keys_rotated", sender=action.sender, generation=action.generation)
            elif isinstance(action, PhaseRefused):  # an alarm: a reopen nobody entitled asked
                log.warning("phase change to %s by %d refused: %s", action.phase, action.by,
                            action.reason.value)
                self._event("phase_refused", phase=action.phase, by=action.by,
                            reason=action.reason.value, epoch=action.epoch)
        if self._timer is not None and not self._timer.done():
            self._timer.cancel()
            self._timer = asyncio.create_task(self._timer_loop())

    async def _timer_loop(self) -> None:
        while self.schedule is not None:
            deadline = self.schedule.next_deadline()
            delay = 3600.0 if deadline is None else max(0.0, deadline - self._now())
            await asyncio.sleep(delay)
            if self.schedule is not None and (deadline is None or self._now() >= deadline):
                timer = self._timer
                self._timer = None  # _feed must not cancel the running loop
                self._feed(TimerFired(self._now()))
                self._timer = timer
