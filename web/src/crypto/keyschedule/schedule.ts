/**
 * The key schedule's state machine: `KeySchedule` (the rules: index.ts). Python:
 * keyschedule/schedule.py.
 *
 * WebCrypto is asynchronous, so `handle` returns a Promise; events are processed strictly
 * one at a time, in the order `handle` was called (an internal queue), so the next event
 * always sees the state the previous one left. Remote input that is refused rejects (a
 * `CryptoError` or `ProtocolError`) and leaves the state unchanged: every check and every
 * crypto operation of an event happens before its first change of state.
 */

import { ProtocolError, UsageError } from "../../errors.js";
import { type Bytes, randomBytes } from "../bytes.js";
import { CallKeyAnnouncement, type CallKeyPair } from "../callkey.js";
import { CodeMessage, MSG_COMMIT, MSG_REVEAL, NONCE_SIZE } from "../codecommit.js";
import { CodeRound } from "../coderound.js";
import type { Phase } from "../codes.gen.js";
import { AnnouncementError, KeyMessageError, Reason } from "../errors.js";
import { type GroupCode, epochCode, groupCode } from "../groupcode.js";
import type { Identity } from "../identity.js";
import { BASE_KEY_SIZE, KeyMessage } from "../keymessage.js";
import { kidsFor } from "../kid.js";
import { signPhase } from "../phaseproof.js";
import type {
  GroupCodeChanged, Joined, KeyScheduleAction, KeyScheduleConfig, KeyScheduleEvent, KeyScheduleSnapshot, Member,
  MemberJoined, MemberLeft, PeerAccepted, PhaseChanged, SendKeyMessage, TrustDecision,
} from "./events.js";
import { Pending, checkAddressed } from "./inbox.js";
import { sealToPeers } from "./outbox.js";
import { type Deadline, type Peer, checkEpoch, checkIds, verifyMember } from "./peers.js";
import { checkPhase, keyed, phaseAfter } from "./phase.js";

const byNumber = (a: number, b: number): number => a - b;

/** Sender-key state machine of one participant in one call. */
export class KeySchedule {
  participantId: number | null = null;
  epoch = -1;
  generation = -1;
  code: GroupCode | null = null;
  /** The call's phase as this schedule holds it: in the closed part nothing is sealed to a
   * member whose signed role is shown out (CLOSED_OUT). */
  phase: Phase = "open";
  /** My role in the room, as my announcement signs it (`announcement`). */
  role = "delegate";
  private readonly peers = new Map<number, Peer>();
  private sendingKids: readonly bigint[] = [];
  private retire: Deadline[] = [];
  private nextRekey: number | null = null;
  private readonly pending: Pending; // messages for later epochs
  // After an epoch change every peer owes a key of the new epoch: by this time, or its
  // current keys are retired (so a leaver cannot keep using them).
  private owed = new Map<number, [number, number]>(); // pid -> [deadline, generation]
  private tail: Promise<unknown> = Promise.resolve();
  private readonly random: (size: number) => Bytes;
  private readonly roster = new Set<number>(); // every id the server listed, rejected ones too
  private round: CodeRound | null = null; // this epoch's code commit/reveal
  private codeIds: string | null = null; // whom this.code covers
  private readonly trusted: TrustDecision;

  constructor(
    readonly identity: Identity,
    readonly callKey: CallKeyPair,
    readonly config: KeyScheduleConfig,
    options: { readonly random?: (size: number) => Bytes; readonly trusted?: TrustDecision } = {},
  ) {
    this.random = options.random ?? randomBytes;
    this.pending = new Pending(config.maxPending);
    // The schedule's own default (tests of the schedule alone): the SignalingClient always
    // passes its decision, which trusts no device it has not verified.
    this.trusted = options.trusted ?? (() => true);
    if (!config.allowedKems.has(callKey.publicKey.kem)) {
      throw new UsageError(`this call does not allow KEM 0x${callKey.publicKey.kem.toString(16)}`);
    }
  }

  // -- public API ------------------------------------------------------------------------

  /** My signed call-key announcement, to send before or with my join, with my role in the
   * room (`join_ack.role`; kept as `role`). */
  async announcement(participantId: number, epoch: number, role?: string): Promise<CallKeyAnnouncement> {
    const ann = await CallKeyAnnouncement.create(this.identity, this.config.roomId, participantId, epoch,
      this.callKey.publicKey, role ?? this.role);
    this.role = ann.role;
    return ann;
  }

  /** My proof asking for `phase` as the next change (`set_phase.proof`): over my current
   * epoch, the one before the change. */
  phaseProof(phase = "open"): Promise<Bytes> {
    return signPhase(this.identity, { roomId: this.config.roomId, signer: this.requireJoined(), epoch: this.epoch, phase });
  }

  /** Participants other than me whose announcement verified (trusted or not). */
  get members(): number[] {
    return [...this.peers.keys()].sort(byNumber);
  }

  /** Members this device has not verified: nothing is sealed to them. */
  get untrusted(): number[] {
    return [...this.peers.values()].filter((p) => !p.trusted).map((p) => p.participantId).sort(byNumber);
  }

  isTrusted(participantId: number): boolean {
    return this.peers.get(participantId)?.trusted ?? false;
  }

  nextDeadline(): number | null {
    const times = [...this.retire.map((d) => d.at), ...[...this.owed.values()].map(([at]) => at)];
    if (this.nextRekey !== null) times.push(this.nextRekey);
    return times.length ? Math.min(...times) : null;
  }

  /** Apply one event, after every event handed in before it. Remote input that is
   * refused rejects (CryptoError, ProtocolError) and leaves the state unchanged. */
  handle(event: KeyScheduleEvent): Promise<KeyScheduleAction[]> {
    const result = this.tail.then(() => this.handleNow(event));
    this.tail = result.catch(() => undefined);
    return result;
  }

  snapshot(): KeyScheduleSnapshot {
    const hex = (kids: readonly bigint[]): string[] => kids.map((k) => k.toString());
    return {
      participantId: this.participantId,
      epoch: this.epoch,
      generation: this.generation,
      sendingKids: hex(this.sendingKids),
      peers: [...this.peers.values()].sort((a, b) => a.participantId - b.participantId)
        .map((p) => ({ participantId: p.participantId, generation: p.generation, kids: hex(p.kids) })),
      retire: this.retire.map((d) => ({ at: d.at, kids: hex(d.kids) })),
      owed: [...this.owed.entries()].map(([participantId, [at, generation]]) => ({ participantId, at, generation })),
      pending: this.pending.epochs(),
      nextRekey: this.nextRekey,
      code: this.code?.digits ?? null,
      phase: this.phase,
    };
  }

  private handleNow(event: KeyScheduleEvent): Promise<KeyScheduleAction[]> {
    switch (event.type) {
      case "joined":
        return this.joined(event);
      case "member_joined":
        return this.memberJoined(event);
      case "member_left":
        return this.memberLeft(event);
      case "phase_changed":
        return this.phaseChanged(event);
      case "timer_fired":
        return this.timer(event.now);
      case "key_message_received":
        return this.keyMessage(event.now, event.data);
      case "peer_accepted":
        return this.accepted(event);
    }
    return Promise.reject(new UsageError(`unknown event ${String((event as { type?: unknown }).type)}`));
  }

  // -- roster events ---------------------------------------------------------------------

  private requireJoined(): number {
    if (this.participantId === null) throw new UsageError("event before Joined");
    return this.participantId;
  }

  /** Verify roster entries; resolves to the verified peers (not yet added) and the
   * rejections. */
  private async admit(members: readonly Member[], me: number, joinedEpoch: number | null, epoch: number,
  ): Promise<[Peer[], KeyScheduleAction[]]> {
    checkIds(members.map((m) => m.participantId), me, this.roster);
    const verified: Peer[] = [];
    const actions: KeyScheduleAction[] = [];
    for (const m of members) {
      try {
        verified.push(await verifyMember(this.config, m, joinedEpoch, epoch, this.trusted));
      } catch (error) {
        if (!(error instanceof AnnouncementError)) throw error;
        actions.push({ type: "member_rejected", participantId: m.participantId, reason: error.reason });
      }
    }
    return [verified, actions];
  }

  private async joined(ev: Joined): Promise<KeyScheduleAction[]> {
    if (this.participantId !== null) throw new UsageError("already joined");
    checkEpoch(this.epoch, ev.epoch);
    const phase = checkPhase(ev.phase ?? "open");
    const [peers, actions] = await this.admit(ev.members, ev.participantId, null, ev.epoch);
    for (const m of ev.members) this.roster.add(m.participantId);
    for (const p of peers) this.peers.set(p.participantId, p);
    this.participantId = ev.participantId;
    this.phase = phase;
    return [...actions, ...(await this.newEpoch(ev.now, ev.epoch))];
  }

  private async memberJoined(ev: MemberJoined): Promise<KeyScheduleAction[]> {
    const me = this.requireJoined();
    checkEpoch(this.epoch, ev.epoch);
    const [peers, actions] = await this.admit([ev.member], me, ev.epoch, 0);
    this.roster.add(ev.member.participantId);
    for (const p of peers) this.peers.set(p.participantId, p);
    return [...actions, ...(await this.newEpoch(ev.now, ev.epoch))];
  }

  private async memberLeft(ev: MemberLeft): Promise<KeyScheduleAction[]> {
    this.requireJoined();
    checkEpoch(this.epoch, ev.epoch);
    if (!this.roster.has(ev.participantId)) throw new ProtocolError(`participant ${ev.participantId} left but was never here`);
    this.roster.delete(ev.participantId);
    const peer = this.peers.get(ev.participantId);
    this.peers.delete(ev.participantId);
    this.owed.delete(ev.participantId);
    if (peer !== undefined && peer.kids.length) this.retire.push({ at: ev.now + this.config.grace, kids: peer.kids });
    return this.newEpoch(ev.now, ev.epoch);
  }

  /** Closing needs no proof and rekeys at once without the roles shown out; opening a
   * closed call needs a principal's proof, else it stays closed (the epoch still
   * advances) and the refusal is reported. */
  private async phaseChanged(ev: PhaseChanged): Promise<KeyScheduleAction[]> {
    const me = this.requireJoined();
    checkEpoch(this.epoch, ev.epoch);
    const [phase, refused] = await phaseAfter(this.phase, ev, {
      roomId: this.config.roomId, me, myKey: this.identity.publicKey, myRole: this.role, peers: this.peers, epoch: this.epoch,
    });
    this.phase = phase;
    return [...(refused ? [refused] : []), ...(await this.newEpoch(ev.now, ev.epoch))];
  }

  private async newEpoch(now: number, epoch: number): Promise<KeyScheduleAction[]> {
    this.requireJoined();
    checkEpoch(this.epoch, epoch);
    this.epoch = epoch;
    const actions = await this.rekey(now); // may reject members whose call key fails
    actions.push(...(await this.startCodeRound()));
    const due = now + this.config.rekeyDeadline;
    // A peer already owing a key keeps its earlier deadline: a stream of roster events
    // cannot keep an old key alive.
    const owed = new Map<number, [number, number]>();
    for (const [pid, p] of this.peers) {
      if (p.kids.length) owed.set(pid, [Math.min(due, this.owed.get(pid)?.[0] ?? due), p.generation]);
    }
    this.owed = owed;
    // Key messages that arrived early for this epoch can be used now.
    for (const data of this.pending.take(epoch)) {
      try {
        actions.push(...(await this.keyMessage(now, data)));
      } catch (error) {
        if (!(error instanceof KeyMessageError)) throw error;
      }
    }
    actions.push(...(await this.codeProgress()));
    return actions;
  }

  // -- the group code: commit, reveal, then the code -------------------------------------

  /** A fresh nonce for the new epoch; my commitment to it goes to every member the roster
   * lists (trusted or not, and also those I rejected: their code covers me). */
  private async startCodeRound(): Promise<KeyScheduleAction[]> {
    const round = await CodeRound.start(this.identity, this.config.roomId, this.requireJoined(), this.epoch,
      this.random(NONCE_SIZE));
    const commits = await round.commitments(this.roster);
    this.round = round;
    this.code = null;
    this.codeIds = null;
    return [{ type: "group_code_pending", epoch: this.epoch },
      ...commits.map(([recipient, data]): SendKeyMessage => ({ type: "send_key_message", recipient, data }))];
  }

  /** My reveal once every peer committed; the code once every reveal matched. */
  private async codeProgress(): Promise<KeyScheduleAction[]> {
    const round = this.round;
    if (round === null) return [];
    const actions: KeyScheduleAction[] = (await round.revealsDue(this.peers.keys(), this.roster))
      .map(([recipient, data]): SendKeyMessage => ({ type: "send_key_message", recipient, data }));
    const keys = new Map([...this.peers].map(([pid, p]) => [pid, p.identityKey]));
    const nonces = round.nonces(keys, this.identity.publicKey);
    const ids = [this.requireJoined(), ...this.peers.keys()].sort(byNumber);
    if (nonces === null || ids.join(",") === this.codeIds) return actions;
    actions.push(await this.codeAction(nonces, ids));
    return actions;
  }

  private async codeMessage(data: Uint8Array): Promise<KeyScheduleAction[]> {
    const msg = CodeMessage.decode(data);
    checkAddressed(msg, this.config.roomId, this.requireJoined());
    if (msg.epoch > this.epoch) return this.hold(msg.epoch, data);
    if (msg.epoch < this.epoch || this.round === null) throw new KeyMessageError(Reason.STALE, "code message of an earlier epoch");
    const peer = this.peers.get(msg.sender);
    if (peer === undefined) throw new KeyMessageError(Reason.UNKNOWN_SENDER);
    await this.round.receive(msg, peer.identityKey);
    return this.codeProgress();
  }

  /** Keep a message for a later epoch (bounded) until that epoch arrives. */
  private hold(epoch: number, data: Uint8Array): KeyScheduleAction[] {
    this.pending.hold(this.epoch, epoch, data);
    return [];
  }

  private async codeAction(nonces: [Uint8Array, Uint8Array][], ids: number[]): Promise<GroupCodeChanged> {
    const entries: [Uint8Array, CallKeyAnnouncement["callKey"]][] = [
      [this.identity.publicKey, this.callKey.publicKey],
      ...[...this.peers.values()].map((p): [Uint8Array, CallKeyAnnouncement["callKey"]] =>
        [p.identityKey, p.announcement.callKey]),
    ];
    const roster = await groupCode(this.config.roomId, this.epoch, entries,
      { phase: this.phase, cipherSuite: this.config.cipherSuite, kems: this.config.allowedKems });
    const code = await epochCode(roster, nonces);
    this.code = code;
    this.codeIds = ids.join(",");
    return { type: "group_code_changed", epoch: this.epoch, code, members: ids };
  }

  // -- my sending key --------------------------------------------------------------------

  /** New sending key, sealed to every peer the phase allows. Everything is computed first
   * and the state changed last, so a failure cannot leave a half-done rekey behind; a peer
   * whose call key cannot be sealed to is rejected rather than aborting the rekey. */
  private async rekey(now: number): Promise<KeyScheduleAction[]> {
    const me = this.requireJoined();
    const generation = this.generation + 1;
    const baseKey = this.random(BASE_KEY_SIZE);
    const [messages, rejected] = await sealToPeers(this.identity, this.config, keyed(this.peers, this.phase),
      { me, epoch: this.epoch, generation, baseKey });
    const kids = kidsFor(me, generation);
    const actions: KeyScheduleAction[] = [...rejected];
    // The new key first, then the old one goes: a media thread switching between the two
    // always finds a key to encrypt with.
    actions.push({ type: "install_encryption_key", generation, kids, baseKey });
    if (this.sendingKids.length) actions.push({ type: "retire_keys", kids: this.sendingKids, sending: true });
    actions.push(...messages);
    for (const r of rejected) this.dropPeer(now, r.participantId);
    this.generation = generation;
    this.sendingKids = kids;
    this.nextRekey = now + this.config.rekeyInterval;
    return actions;
  }

  private dropPeer(now: number, pid: number): void {
    const peer = this.peers.get(pid);
    this.peers.delete(pid);
    this.owed.delete(pid);
    if (peer !== undefined && peer.kids.length) this.retire.push({ at: now, kids: peer.kids });
  }

  private async timer(now: number): Promise<KeyScheduleAction[]> {
    const actions: KeyScheduleAction[] = [];
    // Peers that did not rekey in time after an epoch change: retire their keys now.
    for (const [pid, [at, generation]] of [...this.owed.entries()]) {
      const peer = this.peers.get(pid);
      if (at <= now) {
        this.owed.delete(pid);
        if (peer !== undefined && peer.generation === generation && peer.kids.length) {
          actions.push({ type: "retire_keys", kids: peer.kids, sending: false });
          peer.kids = [];
        }
      }
    }
    const due = this.retire.filter((d) => d.at <= now);
    this.retire = this.retire.filter((d) => d.at > now);
    const live = new Set<bigint>(this.sendingKids);
    for (const p of this.peers.values()) for (const k of p.kids) live.add(k);
    for (const d of due.sort((a, b) => a.at - b.at)) {
      const kids = d.kids.filter((k) => !live.has(k)); // never retire a live key
      if (kids.length) actions.push({ type: "retire_keys", kids, sending: false });
    }
    if (this.nextRekey !== null && now >= this.nextRekey) {
      actions.push(...(await this.rekey(now)));
      if (actions.some((a) => a.type === "member_rejected")) actions.push(...(await this.codeProgress()));
    }
    return actions;
  }

  // -- incoming key messages -------------------------------------------------------------

  private async keyMessage(now: number, data: Uint8Array): Promise<KeyScheduleAction[]> {
    if (data[0] === MSG_COMMIT || data[0] === MSG_REVEAL) return this.codeMessage(data);
    const me = this.requireJoined();
    const msg = KeyMessage.decode(data);
    checkAddressed(msg, this.config.roomId, me);
    if (msg.epoch > this.epoch) return this.hold(msg.epoch, data);
    const peer = this.peers.get(msg.sender);
    if (peer === undefined) throw new KeyMessageError(Reason.UNKNOWN_SENDER);
    if (!peer.trusted) {
      peer.held = data; // opened only if the user accepts this device
      throw new KeyMessageError(Reason.POLICY, "sender not verified by this device");
    }
    if (msg.epoch < this.epoch || msg.generation <= peer.generation) {
      throw new KeyMessageError(Reason.STALE, "old epoch or generation");
    }
    if (msg.cipherSuite !== this.config.cipherSuite) {
      throw new KeyMessageError(Reason.POLICY, "cipher suite differs from the call's");
    }
    const baseKey = await msg.open(this.callKey, peer.identityKey, { roomId: this.config.roomId, recipient: me });
    // Nothing awaited below: the checks above still hold.
    if (this.peers.get(msg.sender) !== peer || msg.generation <= peer.generation) {
      throw new KeyMessageError(Reason.STALE, "old epoch or generation");
    }
    if (peer.kids.length) this.retire.push({ at: now + this.config.grace, kids: peer.kids });
    peer.generation = msg.generation;
    peer.kids = kidsFor(msg.sender, msg.generation);
    this.owed.delete(msg.sender);
    return [{ type: "install_decryption_key", sender: msg.sender, generation: msg.generation, kids: peer.kids, baseKey }];
  }

  // -- the user verified a device ----------------------------------------------------------

  /** Trust `participantId` from now on: a rekey seals a fresh key to it, and its key
   * message held while it was untrusted is opened (if still current). */
  private async accepted(ev: PeerAccepted): Promise<KeyScheduleAction[]> {
    this.requireJoined();
    const peer = this.peers.get(ev.participantId);
    if (peer === undefined) throw new UsageError(`no member ${ev.participantId} to accept`);
    if (peer.trusted) return [];
    peer.trusted = true;
    let actions: KeyScheduleAction[];
    try {
      actions = await this.rekey(ev.now);
    } catch (error) {
      peer.trusted = false; // nothing changed
      throw error;
    }
    if (actions.some((a) => a.type === "member_rejected")) actions.push(...(await this.codeProgress()));
    const held = peer.held;
    peer.held = null;
    if (held !== null) {
      try {
        actions.push(...(await this.keyMessage(ev.now, held)));
      } catch (error) {
        if (!(error instanceof KeyMessageError)) throw error; // stale by now: its next one will do
      }
    }
    return actions;
  }
}
