"""Recording consent as a client sees it (REQUIREMENTS L4; docs/SIGNALING.md "Recording").

:class:`RecordingView` keeps what the server said about recordings in this call: who
records now (``member_recording``, ``MemberInfo.recording``: every terminal shows
"● recorded by NAME"), the requests of recorders (a principal answers them) and every
relayed consent. :func:`decide` is the recorder's rule, the only one that lets it
write: it records only while it holds, for the current phase and the epoch it began in,
a granted consent of every principal of its view, each a valid signature by that
principal's identity key (:mod:`hotline.crypto.consent`) of a device it trusts. One
refusal blocks it; a principal without an answer makes it wait. The server relays the
consents and cannot make one (it has no principal's key), nor move one to another phase,
epoch, room or recorder: those are signed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from hotline.crypto.consent import Consent, sign_consent, verify_consent
from hotline.crypto.identity import Identity
from hotline.signaling import messages as m


@dataclass(frozen=True)
class Decision:
    """May the recorder write now, and if not, why (participant ids)."""

    record: bool
    waiting: tuple[int, ...] = ()  # principals with no valid answer for this phase
    refused: tuple[int, ...] = ()  # principals whose valid answer is a refusal
    untrusted: tuple[int, ...] = ()  # principals whose device the recorder does not trust


def decide(*, room: str, recorder: int, recorder_key: bytes, phase: m.Phase, phase_epoch: int,
           principals: Mapping[int, bytes], trusted: Callable[[int], bool],
           consents: Mapping[int, m.RecordConsentFrom]) -> Decision:
    """The recorder's rule. ``principals``: participant id -> identity key of every
    principal of the recorder's view; ``consents``: the last answer of each member for
    this recorder (anything else in it is ignored)."""
    waiting, refused, untrusted = [], [], []
    for pid, key in sorted(principals.items()):
        if not trusted(pid):
            untrusted.append(pid)
            continue
        answer = consents.get(pid)
        if answer is None or not valid(answer, room=room, recorder=recorder,
                                       recorder_key=recorder_key, phase=phase,
                                       phase_epoch=phase_epoch, principal_key=key):
            waiting.append(pid)
        elif not answer.granted:
            refused.append(pid)
    ok = bool(principals) and not (waiting or refused or untrusted)
    return Decision(ok, tuple(waiting), tuple(refused), tuple(untrusted))


def valid(answer: m.RecordConsentFrom, *, room: str, recorder: int, recorder_key: bytes,
          phase: m.Phase, phase_epoch: int, principal_key: bytes) -> bool:
    """``answer`` is this principal's signed answer for this recorder, phase and epoch."""
    if (answer.recorder, answer.phase, answer.phase_epoch) != (recorder, phase, phase_epoch):
        return False
    return verify_consent(principal_key, answer.signature, Consent(
        room, answer.sender, recorder, recorder_key, phase, phase_epoch, answer.granted))


def answer(identity: Identity, room: str, me: int, request: m.RecordRequested,
           recorder_key: bytes, granted: bool) -> m.RecordConsent:
    """A principal's signed answer to ``request`` (``recorder_key``: the recorder's identity
    key as this principal's roster lists it)."""
    consent = Consent(room, me, request.participant_id, recorder_key, request.phase,
                      request.phase_epoch, granted)
    return m.RecordConsent(recorder=request.participant_id, phase=request.phase,
                           phase_epoch=request.phase_epoch, granted=granted,
                           signature=sign_consent(identity, consent))


@dataclass
class RecordingView:
    """What this client knows of the call's recordings (fed by the signaling client)."""

    #: Members that record now (participant ids).
    recording: set[int] = field(default_factory=set)
    #: The last answer of each member, by recorder: recorder -> member -> answer.
    consents: dict[int, dict[int, m.RecordConsentFrom]] = field(default_factory=dict)
    #: Requests waiting for this principal's answer (a person asked), by recorder.
    pending: dict[int, m.RecordRequested] = field(default_factory=dict)
    #: Requests seen: (recorder, phase, phase_epoch), in order.
    requests: list[tuple[int, m.Phase, int]] = field(default_factory=list)
    #: Called with each request (a principal answers it), each relayed answer, and each
    #: change of who records.
    on_request: Callable[[m.RecordRequested], None] | None = None
    on_consent: Callable[[m.RecordConsentFrom], None] | None = None
    on_change: Callable[[], None] | None = None

    def joined(self, members: list[m.MemberInfo]) -> None:
        self.recording = {i.participant_id for i in members if i.recording}
        self.consents.clear()
        self.requests.clear()
        self._changed()

    def member_joined(self, info: m.MemberInfo) -> None:
        if info.recording:
            self.recording.add(info.participant_id)
            self._changed()

    def member_left(self, pid: int) -> None:
        self.consents.pop(pid, None)
        for answers in self.consents.values():
            answers.pop(pid, None)
        if pid in self.recording:
            self.recording.discard(pid)
            self._changed()

    def handle(self, msg: m.RecordRequested | m.RecordConsentFrom | m.MemberRecording) -> None:
        match msg:
            case m.RecordRequested():
                self.requests.append((msg.participant_id, msg.phase, msg.phase_epoch))
                if self.on_request is not None:
                    self.on_request(msg)
            case m.RecordConsentFrom():
                self.consents.setdefault(msg.recorder, {})[msg.sender] = msg
                if self.on_consent is not None:
                    self.on_consent(msg)
            case m.MemberRecording():
                if msg.active == (msg.participant_id in self.recording):
                    return
                if msg.active:
                    self.recording.add(msg.participant_id)
                else:
                    self.recording.discard(msg.participant_id)
                self._changed()

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()


def indicator(names: Mapping[int, str], recording: set[int]) -> str:
    """What every terminal shows while someone records ("" when nobody does)."""
    who = ", ".join(names.get(pid, f"participant {pid}") for pid in sorted(recording))
    return f"● recorded by {who}" if who else ""
