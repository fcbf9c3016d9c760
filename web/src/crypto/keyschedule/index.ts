/**
 * The per-participant group key schedule, sans-I/O: the browser twin of
 * src/hotline/crypto/keyschedule/, with the same rules (docs/PROTOCOL.md, "Key schedule").
 *
 * Feed it events (`joined`, `member_joined`, `member_left`, `phase_changed`,
 * `timer_fired`, `key_message_received`) with `KeySchedule.handle`; it resolves to actions
 * (`send_key_message`, `install_encryption_key`, `install_decryption_key`, `retire_keys`,
 * `group_code_changed`, `member_rejected`, `phase_refused`) for the caller to carry out, and `nextDeadline`
 * tells when to feed the next `timer_fired`. Time (`now`, seconds) and randomness are
 * passed in; there is no I/O.
 *
 * Rules:
 *
 * - The server orders roster events and numbers them with the group `epoch`; after my join
 *   every event must carry exactly the current epoch + 1, and a leave must name a member of
 *   my view (anything else is refused: a server cannot skip or invent epochs).
 * - A new sender key (next `generation`, fresh random base key) on my join, every join,
 *   every leave, every phase change, and every `rekeyInterval` seconds. It is sealed to
 *   each other verified member and used for sending at once; the previous sending key is
 *   never used again.
 * - Trust is the client's, not the server's: the `trusted` option decides for each roster
 *   member whether this device has verified it (a hotline pin, a device the user accepted:
 *   truststore.ts). An untrusted member stays in the roster and in the group code (an
 *   inserted member changes the code), but nothing is sealed to it and no key of its is
 *   installed, until a `peer_accepted` event marks it trusted; that rekeys, so the
 *   accepted device gets a fresh key.
 * - A sender's previous key stays installed for `grace` seconds after its new one arrives
 *   (frames in flight), then is retired. A leaver's keys are retired `grace` seconds after
 *   the leave. After every epoch change each peer owes a key of the new epoch within
 *   `rekeyDeadline` seconds; if it is late, its current keys are retired anyway.
 * - A member whose call key cannot be sealed to is rejected, not allowed to stop the rekey
 *   of everyone else. So is a member whose announcement signs another role than the roster
 *   gives it (`role_mismatch`): a server cannot relabel the press as a delegate.
 * - Phases (codes.gen.ts): in the closed phase nothing is sealed to a member whose signed
 *   role is shown out (CLOSED_OUT: the press), a newcomer too; a change to closed rekeys at
 *   once without them (anyone may close: it only takes keys away). A change back to open
 *   needs the phase proof (phaseproof.ts) of a trusted member of my view (or me) whose
 *   signed role is principal, over my epoch before the change; without it the schedule
 *   stays closed (the epoch still advances) and reports `phase_refused`
 *   (`phase_unproven`). `KeySchedule.phase` is the phase held.
 * - Key messages are accepted once, in the current epoch, with a generation above the last
 *   one accepted from that sender; messages for a later epoch (at most MAX_EPOCHS_AHEAD
 *   ahead) wait, bounded by `maxPending` with the oldest dropped, until that epoch arrives;
 *   anything else is refused with `KeyMessageError`.
 * - The group code covers the room, the epoch, the phase, every verified member's identity
 *   and call key, and one fresh nonce per member (coderound.ts): at every epoch each member sends
 *   the others a signed commitment to its nonce, reveals the nonce once it holds everyone's
 *   commitment, and the code is known (`group_code_changed`) once all reveals match; until
 *   then it is pending (`group_code_pending`). Media keys never wait for this.
 *
 * Modules (the same as Python's): events.ts (configuration, events, actions), peers.ts
 * (membership and the checks of roster events), phase.ts (whom a phase allows keys, reopen
 * proofs), inbox.ts (addressing of incoming messages,
 * the wait for later epochs), schedule.ts (the state machine).
 */

export * from "./events.js";
export { MAX_EPOCHS_AHEAD } from "./inbox.js";
export { KeySchedule } from "./schedule.js";
