/**
 * The browser client's signaling side: connect, enroll or authenticate, join, keys (the
 * browser twin of src/hotline/client/signaling.py, doing the same things in the same order).
 *
 * `SignalingClient` speaks the server's WebSocket protocol (messages.ts, docs/SIGNALING.md;
 * the connection itself, its replies and resuming it are connection.ts), runs this participant's `KeySchedule` and applies its actions to a `MediaKeys`, which the
 * media layer uses to encrypt and decrypt frames. Events for the application (joined,
 * member_joined, member_left, member_media, keys_rotated, group_code, key_rejected, error, closed) go to
 * `events` (an async queue) and to every `onEvent` listener.
 *
 * Whom keys are sealed to is this client's decision, not the server's: every roster member
 * goes through the client's `TrustPolicy` (trust.ts). A member this browser has not verified
 * is listed in `unverified` (event `unverified`) and gets no key until `accept`; in a
 * hotline's call or link test a key that is not pinned sets `pinFailure` (event
 * `pin_mismatch`) and the call is to be ended.
 *
 * Roster events, key messages and timer ticks reach the key schedule strictly in the order
 * they arrived (one chain of promises: WebCrypto is asynchronous, the order is not allowed
 * to be); the key messages an event produces are sent before the next event is looked at.
 */

import type { GroupCode } from "../crypto/groupcode.js";
import { CallKeyPair, Kem } from "../crypto/callkey.js";
import { CryptoError } from "../crypto/errors.js";
import { prove } from "../crypto/auth.js";
import type { Identity } from "../crypto/identity.js";
import {
  type KeyScheduleAction, type KeyScheduleEvent, KeySchedule, type Member, keyScheduleConfig,
} from "../crypto/keyschedule/index.js";
import { MediaKeys } from "../crypto/mediakeys.js";
import { HotlineError, ProtocolError, RemoteError, UsageError, serverError } from "../errors.js";
import { SignalingConnection } from "./connection.js";
import { type CallPhase, PhaseView } from "./phase.js";
import { type Presented, TrustPolicy, UntrustedKey } from "./trust.js";
import {
  type ClientMessage, type DirectFrom, type DirectSignal, type ErrorMessage, HOTLINE_TYPES, type HotlineMessage, type MediaRestarted, type MediaState, type MemberInfo, type PhaseChanged, type Role, type ServerMessage, type SubscribeOffer,
  type MemberRecording, type RecordConsentFrom, type RecordRequested,
} from "./messages.js";

export { AsyncQueue, type ClientEvent, type ClientEventKind, wsUrl } from "./connection.js";
/** Proofs (crypto/auth.ts) are bound to the server's origin as this page knows it. */
export { prove } from "../crypto/auth.js";

export interface SignalingOptions {
  readonly kem?: Kem;
  readonly rekeyInterval?: number;
  readonly grace?: number;
  /** Seconds on a monotonic clock (default: performance.now() / 1000). */
  readonly clock?: () => number;
  /** Whom this device seals keys to (default: nobody it has not verified). */
  readonly trust?: TrustPolicy;
}

export class SignalingClient extends SignalingConnection {
  party = "";
  rooms: readonly string[] = [];
  /** Our role in each of our rooms (from `welcome`). */
  roomRoles: Readonly<Record<string, Role>> = {};
  room = "";
  participantId: number | null = null;
  schedule: KeySchedule | null = null;
  readonly keys = new MediaKeys();
  readonly names = new Map<number, string>(); // participant id -> party name
  readonly identityKeys = new Map<number, Uint8Array>(); // participant id -> identity key listed
  readonly roles = new Map<number, Role>(); // participant id -> role in the room
  readonly media = new Map<number, MediaState>(); // participant id -> what it sends
  /** participant id -> the channel its audio goes into ("": floor; interpreters). */
  readonly memberChannels = new Map<number, string>();
  /** The room's interpretation channels (`joined`), and those the SFU forwards to us. */
  channels: readonly string[] = [];
  listening: readonly string[] = [];
  role: Role = "delegate"; // ours, in the room joined
  rejectedKeyMessages = 0;
  /** Whom this device seals keys to. */
  readonly trust: TrustPolicy;
  /** Members of the current room this device has not verified (no key sealed to them). */
  readonly unverified = new Map<number, Presented>();
  /** Set in a hotline's room when the far end's key is not the pinned one. */
  pinFailure: UntrustedKey | null = null;
  /** Called after key actions were applied (the media layer re-checks held frames). */
  onKeysChanged: (() => void) | null = null;
  /** Called with every batch of key actions after `keys` applied it (e.g. to mirror the
   * keys into a media worker). The actions carry base keys: keep them in memory only. */
  onKeyActions: ((actions: readonly KeyScheduleAction[]) => void) | null = null;
  /** Called with each subscribe offer from the SFU (the media layer answers it). */
  /** Subscribe offers and `media_restarted`, in the order they came. */
  onSubscribeOffer: ((offer: SubscribeOffer | MediaRestarted) => void) | null = null;
  /** The room joined allows a direct connection between its two members (`joined`). */
  directAllowed = false;
  /** Members that record the call now (`member_recording`, `MemberInfo.recording`). */
  readonly recording = new Set<number>();
  /** Recording requests, relayed consents and recording changes (app/recordingui.ts). */
  onRecording: ((message: RecordRequested | RecordConsentFrom | MemberRecording) => void) | null = null;
  /** The other member's signals of a direct connection (app/directpath.ts). */
  onDirect: ((message: DirectFrom) => void) | null = null;
  /** Hotline messages (standby, link tests, ringing, calls, dashboard data) and every
   * error, in order, for the hotline views. */
  readonly onHotline = new Set<(message: HotlineMessage | ErrorMessage) => void>();

  private readonly kem: Kem;
  private readonly rekeyInterval: number;
  private readonly grace: number;
  private readonly clock: () => number;
  private chain: Promise<void> = Promise.resolve(); // the key schedule's input, in order
  private timer: ReturnType<typeof setTimeout> | null = null;
  private timerArmed = false; // after joined, until leave or close
  /** The call's phase as this client believes it (protocol/phase.ts). */
  readonly phases = new PhaseView();

  constructor(server: string, identity: Identity, options: SignalingOptions = {}) {
    super(server, identity);
    this.kem = options.kem ?? Kem.X25519;
    this.rekeyInterval = options.rekeyInterval ?? 600.0;
    this.grace = options.grace ?? 1.0;
    this.clock = options.clock ?? (() => performance.now() / 1000);
    this.trust = options.trust ?? new TrustPolicy();
  }

  // -- connection --------------------------------------------------------------------------

  private now(): number {
    return this.clock();
  }

  /** Send a request that has no direct reply (hotline messages). */
  request(message: ClientMessage): void {
    this.send(message);
  }

  /** Send `message` and wait for the first hotline message of one of `types` (or an error). */
  async ask<T extends HotlineMessage["type"]>(message: ClientMessage, types: readonly T[], timeoutSeconds = 10.0): Promise<Extract<HotlineMessage, { type: T }>> {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.onHotline.delete(listener);
        reject(new RemoteError(`no ${types.join(" or ")} from the server in ${timeoutSeconds} s`));
      }, timeoutSeconds * 1000);
      const listener = (m: HotlineMessage | ErrorMessage): void => {
        if (m.type === "error") reject(serverError(m.code, m.message));
        else if ((types as readonly string[]).includes(m.type)) resolve(m as Extract<HotlineMessage, { type: T }>);
        else return;
        clearTimeout(timer);
        this.onHotline.delete(listener);
      };
      this.onHotline.add(listener);
      this.send(message);
    });
  }

  // -- requests ----------------------------------------------------------------------------

  /** Register this identity with a one-time code; resolves to the party name. */
  async enroll(code: string, label = ""): Promise<string> {
    const signature = await prove(this.identity, "enroll", this.challenge, this.origin, code);
    this.send({ type: "enroll", code, identity_key: this.identity.publicKey, label, signature, origin: this.origin });
    const reply = await this.reply(["enrolled"]);
    this.party = reply.party;
    return reply.party;
  }

  /** Sign this connection's challenge; resolves to the rooms of our party. */
  async authenticate(): Promise<readonly string[]> {
    const signature = await prove(this.identity, "auth", this.challenge, this.origin);
    this.send({ type: "auth", identity_key: this.identity.publicKey, signature, origin: this.origin });
    const reply = await this.reply(["welcome"]);
    this.party = reply.party;
    this.rooms = reply.rooms;
    this.roomRoles = reply.roles;
    return reply.rooms;
  }

  /** Join `room`: announce our call key, get the roster, start the key schedule. Resolves
   * once the roster went through the key schedule (our first key is installed). */
  async join(room: string, timeoutSeconds = 10.0, request?: { readonly type: "hotline_join"; readonly call_id: string }): Promise<void> {
    this.room = room;
    this.schedule = new KeySchedule(this.identity, await CallKeyPair.generate(this.kem), keyScheduleConfig({
      roomId: room, rekeyInterval: this.rekeyInterval, grace: this.grace, allowedKems: new Set([this.kem]),
    }), { trusted: (m) => this.decide(m) });
    this.unverified.clear();
    this.pinFailure = null;
    this.send(request ?? { type: "join", room }); // a hotline's test or call room: hotline_join
    const ack = await this.reply(["join_ack"], timeoutSeconds);
    if (ack.room !== room) throw new ProtocolError(`the server answered a join of ${JSON.stringify(room)} with another room`);
    const ann = await this.schedule.announcement(ack.participant_id, ack.epoch, ack.role);
    this.send({ type: "announce", announcement: ann.encode() });
    await this.reply(["joined"], timeoutSeconds); // delivered once the roster was fed
  }

  /** Send our media offer to the SFU; resolves to its answer. */
  async publish(offerSdp: string, timeoutSeconds = 15.0): Promise<string> {
    this.send({ type: "publish", sdp: offerSdp });
    return (await this.reply(["publish_answer"], timeoutSeconds)).sdp;
  }

  /** A description or candidate of the direct connection, for the other member. */
  sendDirect(signal: Omit<DirectSignal, "type">): void {
    this.send({ type: "direct_signal", ...signal });
  }

  /** Tell the room what we send now (mute, camera off, screen share). */
  setMedia(state: MediaState): void {
    if (this.participantId !== null) this.media.set(this.participantId, state);
    this.send({ type: "media", state });
  }

  /** Receive these channels besides the floor ([]: the floor only); `listening` answers. */
  listen(channels: readonly string[]): void {
    this.send({ type: "listen", channels: [...channels] });
  }

  /** An interpreter's audio goes into `channel` ("": floor); `member_channel` answers. */
  setChannel(channel: string): void {
    this.send({ type: "set_channel", channel });
  }

  /** Ask the SFU for new media connections (the path died); `media_restarted` comes
   * back through onSubscribeOffer. Seat and keys stay. */
  requestMediaRestart(reason: string): void {
    this.send({ type: "media_restart", reason: reason.slice(0, 200) });
  }

  answerSubscription(answerSdp: string): void {
    this.send({ type: "subscribe_answer", sdp: answerSdp });
  }

  /** Close the call (the press is shown out) or reopen it (signed by this device: only a
   * principal's reopening is believed). Resolves once the server announced the change. */
  async setPhase(phase: CallPhase, timeoutSeconds = 10.0): Promise<void> {
    const me = this.participantId;
    const schedule = this.schedule;
    if (me === null || schedule === null) throw new UsageError("not in a call");
    const proof = phase === "open" ? await schedule.phaseProof("open") : new Uint8Array(0);
    this.send({ type: "set_phase", room: this.room, phase, proof });
    while ((await this.reply(["phase_changed"], timeoutSeconds)).phase !== phase) { /* an older change */ }
  }

  async leave(): Promise<void> {
    this.send({ type: "leave" });
    await this.reply(["left"]);
    this.stopSchedule();
  }

  private stopSchedule(): void {
    this.seat = null; // nothing to resume after a leave
    this.stopTimer();
    this.timerArmed = false;
    this.schedule = null;
    this.participantId = null;
  }

  get code(): GroupCode | null {
    return this.keys.code;
  }

  // -- trust: the client decides whom it seals keys to --------------------------------------

  private async decide(m: Member): Promise<boolean> {
    const p = await this.trust.decide(m.participantId, m.party ?? "", m.identityKey, this.party);
    if (p.verdict === "trusted") return true;
    this.unverified.set(m.participantId, p);
    if (p.hotline !== null) {
      const failure = new UntrustedKey(p);
      this.pinFailure ??= failure;
      console.error(`ALARM ${failure.message}`);
      this.event("pin_mismatch", {
        participant_id: p.participantId, party: p.party, presented: p.fingerprint, expected: [...p.expected],
        hotline: p.hotline, message: failure.message,
      });
    } else {
      this.event("unverified", { participant_id: p.participantId, party: p.party, fingerprint: p.fingerprint, verdict: p.verdict });
    }
    return false;
  }

  /** The user verified this member's device: remember it, and rekey so that it gets a
   * fresh key. */
  async accept(participantId: number): Promise<void> {
    const p = this.unverified.get(participantId);
    if (p === undefined) throw new UsageError(`participant ${participantId} is not waiting for a decision`);
    await this.trust.accept(p.party, p.fingerprint);
    this.unverified.delete(participantId);
    this.feed({ type: "peer_accepted", now: this.now(), participantId });
    this.event("accepted", { participant_id: participantId, party: p.party, fingerprint: p.fingerprint });
  }

  /** The user refused this device: remembered; it stays at zero keys. */
  async refuse(participantId: number): Promise<void> {
    const p = this.unverified.get(participantId);
    if (p === undefined) throw new UsageError(`participant ${participantId} is not waiting for a decision`);
    await this.trust.refuse(p.party, p.fingerprint);
    this.unverified.set(participantId, { ...p, verdict: "refused" });
    this.event("refused", { participant_id: participantId, party: p.party, fingerprint: p.fingerprint });
  }

  // -- the reader: roster events and key messages go to the key schedule ---------------------

  protected override dispatch(message: ServerMessage): void {
    const now = this.now();
    switch (message.type) {
      case "joined": {
        if (message.room !== this.room) { // not the room we asked for: join() fails at once
          this.replies.put({ type: "error", code: "protocol", message: "joined another room than asked" } as ServerMessage);
          break;
        }
        this.seat = { room: message.room, participantId: message.participant_id, token: message.resume_token };
        this.iceServers = message.ice_servers;
        this.received = 0;
        this.sentSeq = 0;
        this.sentLog = [];
        this.participantId = message.participant_id;
        this.names.clear();
        this.identityKeys.clear();
        this.roles.clear();
        this.media.clear();
        this.memberChannels.clear();
        this.channels = message.channels;
        this.listening = [];
        this.recording.clear();
        for (const i of message.members) {
          this.memberChannels.set(i.participant_id, i.channel);
          if (i.recording) this.recording.add(i.participant_id);
          this.names.set(i.participant_id, i.party);
          this.identityKeys.set(i.participant_id, i.identity_key);
          this.roles.set(i.participant_id, i.role);
          this.media.set(i.participant_id, i.media);
        }
        this.names.set(message.participant_id, this.party);
        this.roles.set(message.participant_id, message.role);
        this.role = message.role;
        this.directAllowed = message.direct;
        this.phases.joined(message.phase, message.phase_epoch);
        this.feed({
          type: "joined", now, epoch: message.epoch, participantId: message.participant_id,
          members: message.members.map(member), phase: message.phase,
        }, () => {
          this.timerArmed = true;
          this.event("joined", { participant_id: message.participant_id, epoch: message.epoch });
          this.replies.put(message);
        });
        break;
      }
      case "member_joined":
        this.names.set(message.member.participant_id, message.member.party);
        this.identityKeys.set(message.member.participant_id, message.member.identity_key);
        this.roles.set(message.member.participant_id, message.member.role);
        this.media.set(message.member.participant_id, message.member.media);
        this.memberChannels.set(message.member.participant_id, message.member.channel);
        if (message.member.recording) this.recording.add(message.member.participant_id);
        this.feed({ type: "member_joined", now, epoch: message.epoch, member: member(message.member) }, () =>
          this.event("member_joined", { participant_id: message.member.participant_id, party: message.member.party }));
        break;
      case "member_left":
        this.unverified.delete(message.participant_id);
        if (this.recording.delete(message.participant_id)) this.onRecording?.({ type: "member_recording", participant_id: message.participant_id, active: false, phase: "open" } as MemberRecording);
        this.feed({ type: "member_left", now, epoch: message.epoch, participantId: message.participant_id }, () =>
          this.event("member_left", {
            participant_id: message.participant_id, party: this.names.get(message.participant_id) ?? "?",
          }));
        break;
      case "phase_changed":
        this.phaseChanged(message, now);
        break;
      case "member_media":
        if (this.names.has(message.participant_id)) {
          this.media.set(message.participant_id, message.state);
          this.event("member_media", { participant_id: message.participant_id, ...message.state });
        }
        break;
      case "member_channel":
        if (this.names.has(message.participant_id)) {
          this.memberChannels.set(message.participant_id, message.channel);
          this.event("member_channel", { participant_id: message.participant_id, channel: message.channel });
        }
        break;
      case "listening":
        this.listening = message.channels;
        this.event("listening", { channels: message.channels });
        break;
      case "key_from":
        this.feed({ type: "key_message_received", now, data: message.data });
        break;
      case "subscribe_offer":
      case "media_restarted":
        this.onSubscribeOffer?.(message);
        break;
      case "direct_from":
        this.onDirect?.(message);
        break;
      case "member_recording":
        if (message.active) this.recording.add(message.participant_id);
        else this.recording.delete(message.participant_id);
        this.onRecording?.(message);
        break;
      case "record_requested":
      case "record_consent_from":
        this.onRecording?.(message);
        break;
      default:
        if (HOTLINE_TYPES.has(message.type)) {
          for (const listener of [...this.onHotline]) listener(message as HotlineMessage);
          break;
        }
        this.replies.put(message);
        if (message.type === "error") {
          this.event("error", { code: message.code, message: message.message });
          for (const listener of [...this.onHotline]) listener(message);
        }
    }
  }

  /** A phase change: to the key schedule (a roster event, which decides whether a
   * reopening is proven), then shown as the key schedule holds it. */
  private phaseChanged(msg: PhaseChanged, now: number): void {
    this.feed({ type: "phase_changed", now, epoch: msg.epoch, phase: msg.phase, by: msg.by, proof: msg.proof }, () => {
      const held = this.schedule?.phase ?? msg.phase;
      if (msg.phase === "open" && held !== "open") {
        const text = `the server says participant ${msg.by} reopened the call, without a valid phase proof of a principal of this call: it stays CLOSED`;
        this.phases.alarms.push(text);
        console.error(`ALARM ${text}`);
        this.event("phase_alarm", { epoch: msg.epoch, by: msg.by, message: text });
      } else if (this.phases.take(msg.phase, msg.epoch, now)) {
        this.event("phase", { phase: msg.phase, epoch: msg.epoch, by: msg.by, shown_out: msg.phase === "closed" && this.role === "press" });
      }
      this.replies.put(msg);
    });
  }

  /** Hand `event` to the key schedule after everything before it; `after` runs once it
   * was handled (in order, whatever happened). */
  private feed(event: KeyScheduleEvent, after?: () => void): void {
    this.chain = this.chain.then(async () => {
      try {
        await this.feedNow(event);
      } finally {
        after?.();
      }
    }).catch((error: unknown) => {
      this.event("error", { code: "client", message: error instanceof Error ? error.message : String(error) });
    });
  }

  private async feedNow(event: KeyScheduleEvent): Promise<void> {
    const schedule = this.schedule;
    if (schedule === null) return;
    let actions: KeyScheduleAction[];
    try {
      actions = await schedule.handle(event);
    } catch (error) {
      if (error instanceof CryptoError) { // a refused key message: count it and go on
        this.rejectedKeyMessages += 1;
        this.event("key_rejected", { reason: error.reason });
        return;
      }
      if (error instanceof HotlineError) {
        this.event("error", { code: "roster", message: error.message });
        return;
      }
      throw error;
    }
    for (const out of await this.keys.apply(actions)) {
      if (this.schedule === schedule) this.send({ type: "key", to: out.recipient, data: out.data });
    }
    if (actions.length) {
      this.onKeyActions?.(actions);
      this.onKeysChanged?.();
    }
    for (const action of actions) {
      if (action.type === "group_code_changed") {
        this.event("group_code", { digits: action.code.digits, words: action.code.words, epoch: action.epoch });
      } else if (action.type === "group_code_pending") {
        this.event("group_code_pending", { epoch: action.epoch });
      } else if (action.type === "install_decryption_key") {
        this.event("keys_rotated", { sender: action.sender, generation: action.generation });
      } else if (action.type === "phase_refused") { // an alarm: a reopen nobody entitled asked
        this.event("phase_refused", { phase: action.phase, by: action.by, reason: action.reason, epoch: action.epoch });
      }
    }
    this.armTimer();
  }

  // -- the timer: feeds TimerFired at the key schedule's next deadline ---------------------

  protected override halt(): void {
    this.stopTimer();
    this.timerArmed = false;
  }

  private stopTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private armTimer(): void {
    this.stopTimer();
    const schedule = this.schedule;
    if (!this.timerArmed || schedule === null) return;
    const deadline = schedule.nextDeadline();
    const delay = deadline === null ? 3600.0 : Math.max(0, deadline - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.schedule !== schedule) return;
      if (deadline !== null && this.now() >= deadline) this.feed({ type: "timer_fired", now: this.now() });
      else this.armTimer();
    }, delay * 1000);
  }

}

function member(info: MemberInfo): Member {
  return {
    participantId: info.participant_id, identityKey: info.identity_key, announcement: info.announcement, party: info.party,
    role: info.role,
  };
}
