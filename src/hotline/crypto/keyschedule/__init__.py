"""The per-participant group key schedule, sans-I/O.

Feed it events (:class:`Joined`, :class:`MemberJoined`, :class:`MemberLeft`,
:class:`PhaseChanged`, :class:`TimerFired`, :class:`KeyMessageReceived`) with
:meth:`KeySchedule.handle` (and :class:`PeerAccepted` when the user accepts a device it
had not verified); it returns actions (:class:`SendKeyMessage`,
:class:`InstallEncryptionKey`, :class:`InstallDecryptionKey`, :class:`RetireKeys`,
:class:`GroupCodeChanged`, :class:`MemberRejected`, :class:`PhaseRefused`) for the caller
to carry out, and
:meth:`KeySchedule.next_deadline` tells when to feed the next :class:`TimerFired`.
Time (``now``, seconds) and randomness are passed in; there is no I/O.

Rules (docs/PROTOCOL.md, "Key schedule"):

* The server orders roster events and numbers them with the group ``epoch``; after my
  join every event must carry exactly the current epoch + 1, and a leave must name a
  member of my view (anything else is refused: a server cannot skip or invent epochs).
* A new sender key (next ``generation``, fresh random base key) on my join, every
  join, every leave, every phase change, and every ``rekey_interval`` seconds. It is
  sealed to each other verified member and used for sending at once; the previous
  sending key is never used again.
* Trust is the client's, not the server's: ``trusted`` (a callback given to the schedule)
  decides for each roster member whether this device has verified it (a hotline pin, a
  device the user accepted: :mod:`hotline.client.trust`). An untrusted member stays in
  the roster and in the group code (an inserted member changes the code), but nothing
  is sealed to it and no key of its is installed, until :class:`PeerAccepted` marks it
  trusted; that rekeys, so the accepted device gets a fresh key.
* A sender's previous key stays installed for ``grace`` seconds after its new one
  arrives (frames in flight), then is retired. A leaver's keys are retired
  ``grace`` seconds after the leave. After every epoch change each peer owes a key of
  the new epoch within ``rekey_deadline`` seconds; if it is late, its current keys are
  retired anyway (fail closed: a leaver, who knows them, cannot keep using them).
* A member whose call key cannot be sealed to is rejected, not allowed to stop the
  rekey of everyone else. So is a member whose announcement signs another role than the
  roster gives it (``role_mismatch``): a server cannot relabel the press as a delegate.
* Phases (:mod:`hotline.phases`): in the closed phase nothing is sealed to a member whose
  signed role is shown out (CLOSED_OUT: the press), a newcomer too; a change to closed
  rekeys at once without them (anyone may close: it only takes keys away). A change back
  to open needs the phase proof (:mod:`hotline.crypto.phaseproof`) of a trusted member of
  my view (or me) whose signed role is principal, over my epoch before the change;
  without it the schedule stays closed (the epoch still advances) and reports
  :class:`PhaseRefused` (``phase_unproven``). :attr:`KeySchedule.phase` is the phase held.
* Key messages are accepted once, in the current epoch, with a generation above the
  last one accepted from that sender; messages for a later epoch wait (bounded) until
  that epoch arrives; anything else is rejected with :class:`KeyMessageError`.
* The group code covers the room, the epoch, the phase, every verified member's identity
  and call key, and one fresh nonce per member (:mod:`hotline.crypto.coderound`): at every epoch
  each member sends the others a signed commitment to its nonce, reveals the nonce once
  it holds everyone's commitment, and the code is known (:class:`GroupCodeChanged`) once
  all reveals match; until then it is pending (:class:`GroupCodePending`). Media keys
  never wait for this.

Modules: :mod:`.events` (configuration, events, actions), :mod:`.peers` (membership and
the checks of roster events), :mod:`.phase` (whom a phase allows keys, reopen proofs),
:mod:`.inbox` (addressing of incoming messages, the wait
for later epochs), :mod:`.schedule` (the state machine). web/src/crypto/keyschedule/ has
the same modules.
"""

from hotline.crypto.keyschedule import events
from hotline.crypto.keyschedule.events import *  # noqa: F403 - its events and actions are the API
from hotline.crypto.keyschedule.inbox import MAX_EPOCHS_AHEAD
from hotline.crypto.keyschedule.schedule import KeySchedule

__all__ = ["MAX_EPOCHS_AHEAD", "KeySchedule"]
__all__ += events.__all__
