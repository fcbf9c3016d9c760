/**
 * The direct (peer-to-peer) path of a two-party call in the page, beside the SFU's
 * connections (docs/SIGNALING.md "A direct connection between two members").
 *
 * `DirectConnection`: one RTCPeerConnection to the other member, sendrecv audio + video
 * (DTLS-SRTP), negotiated over `direct_signal`/`direct_from`: the member with the lower
 * participant id offers (so there is no glare), candidates are trickled. Its transceivers
 * come from `MediaE2EE.addTrack` (an offer's m-lines take over addTrack's transceivers on
 * the answering end): both transforms attached in the same task, the receivers bound to
 * the far member (frames of anyone else dropped and counted), the senders bound to the
 * path "direct" (one SFrame sender per slot in the worker for both paths: one counter per
 * key, no nonce reuse, no rekey on a switch). Senders start on placeholders and get the
 * real microphone and camera once proved (proof.ts); the bypass check guards the
 * connection like the SFU's (fail closed).
 *
 * `DirectPath`: hot standby. Both paths stay up; our media goes on the active one (the
 * worker drops the frames of the other path's senders); `PathPolicy` (media/pathswitch.ts)
 * decides from the connection states and from where the far end's frames were decrypted
 * (the worker's counters per path, every POLL_MS; the first PATH_PROOF_FRAMES of each
 * receiver are not counted: they may be the far end's proof on a path on standby). The far end's tile shows the streams of
 * the path its frames come on. Every change goes to pathview.ts.
 */

import { PATH_PROOF_FRAMES } from "../media/messages.js";
import { LABELS, PathPolicy, type Path } from "../media/pathswitch.js";
import type { MediaE2EE } from "../media/pipeline.js";
import { Placeholders, proveSender } from "../media/proof.js";
import type { DirectFrom } from "../protocol/messages.js";
import type { SignalingClient } from "../protocol/signaling.js";
import { onlyMidExtension } from "./negotiation.js";
import { clearPath, showActivePath, showDirectState } from "./pathview.js";
import { selectedPath } from "./quality.js";
import { message, state } from "./view.js";

const POLL_MS = 200;
/** The direct connection's candidate pair is read every this many polls. */
const PAIR_POLLS = 5;
/** A direct connection that is no use is replaced after RETRY_FIRST_S, doubling up to
 * RETRY_MAX_S (seconds); one not connected SETUP_TIMEOUT_S after it was made is no use. */
const RETRY_FIRST_S = 3;
const RETRY_MAX_S = 30;
const SETUP_TIMEOUT_S = 10;
/** Signals kept for a connection not made yet. */
const MAX_EARLY = 64;
type Kind = "audio" | "video";

function seconds(): number {
  return performance.now() / 1000;
}

/** One direct connection to `far`; `onState` hears its connectionState. */
export class DirectConnection {
  readonly pc = new RTCPeerConnection({ iceServers: [] });
  readonly transceivers: Record<Kind, RTCRtpTransceiver>;
  /** The far end's description was applied (an offer after that is a new connection). */
  remoteSet = false;
  readonly startedAt = seconds();
  connectedAt: number | null = null;
  private candidates: RTCIceCandidateInit[] = [];
  private chain: Promise<void> = Promise.resolve();
  closed = false;

  constructor(
    private readonly e2ee: MediaE2EE, private readonly client: SignalingClient, readonly far: number,
    tracks: Record<Kind, MediaStreamTrack>, private readonly onError: (text: string) => void,
  ) {
    const stream = new MediaStream();
    const bind = { participant: far, path: "direct" as const };
    // audio first, then video; each transform attached in this same task
    const audio = e2ee.addTrack(this.pc, tracks.audio, stream, bind);
    const video = e2ee.addTrack(this.pc, tracks.video, stream, bind);
    onlyMidExtension(audio);
    onlyMidExtension(video);
    this.transceivers = { audio, video };
    this.pc.addEventListener("icecandidate", (event) => {
      if (this.closed) return;
      const c = event.candidate;
      this.client.sendDirect({
        to: far,
        candidate: c === null || c.candidate === ""
          ? { candidate: "", sdp_mid: null, sdp_m_line_index: null }
          : { candidate: c.candidate, sdp_mid: c.sdpMid, sdp_m_line_index: c.sdpMLineIndex },
      });
    });
  }

  /** We offer when our participant id is the lower one. */
  get offerer(): boolean {
    return (this.client.participantId ?? 0) < this.far;
  }

  start(): void {
    if (this.offerer) this.queue(async () => {
      await this.pc.setLocalDescription(await this.pc.createOffer());
      this.client.sendDirect({ to: this.far, description: { kind: "offer", sdp: this.pc.localDescription!.sdp } });
    });
  }

  /** A signal of the far member (the server checked it came from the room's other member). */
  signal(m: DirectFrom): void {
    if (m.sender !== this.far) return;
    this.queue(async () => {
      if (m.description !== null) {
        const d = m.description;
        // the lower id offers (an offer from the higher id is ignored); one answer each
        if ((d.kind === "offer") === this.offerer) return;
        if (this.remoteSet) throw new Error(`an unexpected direct ${d.kind}`);
        await this.pc.setRemoteDescription({ type: d.kind, sdp: d.sdp });
        this.remoteSet = true;
        if (d.kind === "offer") {
          await this.pc.setLocalDescription(await this.pc.createAnswer());
          this.client.sendDirect({ to: this.far, description: { kind: "answer", sdp: this.pc.localDescription!.sdp } });
        }
        for (const c of this.candidates.splice(0)) await this.pc.addIceCandidate(c).catch(() => undefined);
      } else if (m.candidate !== null && m.candidate.candidate !== "") {
        const c = { candidate: m.candidate.candidate, sdpMid: m.candidate.sdp_mid, sdpMLineIndex: m.candidate.sdp_m_line_index };
        // a candidate of a connection this one replaced does not fit: ignored
        if (this.remoteSet) await this.pc.addIceCandidate(c).catch(() => undefined);
        else this.candidates.push(c);
      }
    });
  }

  private queue(step: () => Promise<void>): void {
    this.chain = this.chain.then(async () => {
      if (!this.closed) await step();
    }).catch((error: unknown) => {
      if (!this.closed) this.onError(`direct connection: ${message(error)}`);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.e2ee.release(this.pc);
    this.pc.close();
  }
}

/** What the direct path needs from the call. */
export interface DirectHost {
  readonly e2ee: MediaE2EE;
  readonly client: SignalingClient;
  ended(): boolean;
  /** The real track of a kind now (null: none, e.g. camera off). */
  realTrack(kind: Kind): MediaStreamTrack | null;
  /** The direct video sender is proved (camera changes swap its track too), or gone. */
  directVideo(sender: RTCRtpSender | null): void;
  /** Show `receiver` in the far member's tile (until its first passed check: held back). */
  show(participant: number, receiver: RTCRtpReceiver, kind: Kind): void;
  notice(text: string): void;
}

export class DirectPath {
  readonly policy = new PathPolicy("direct");
  private conn: DirectConnection | null = null;
  private placeholders: Placeholders | null = null;
  /** The path whose senders the worker lets through now. */
  private applied: Path = "sfu";
  private applying: Promise<void> = Promise.resolve();
  /** The far member's receivers on the SFU's subscribe connection. */
  private readonly sfuReceivers = new Map<number, Partial<Record<Kind, RTCRtpReceiver>>>();
  /** Decrypted frames of the far member per path, and per receive transform at the last poll. */
  private readonly decrypted: Record<Path, number> = { sfu: 0, direct: 0 };
  private readonly lastOut = new Map<string, number>();
  private shown: Path | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private polls = 0;
  /** When the offerer makes a new direct connection, and the delay after the next. */
  private retryAt: number | null = null;
  private retryAfter = RETRY_FIRST_S;

  /** Signals that came before their connection was made (the far member offered while
   * we were still publishing): replayed to it, in order. */
  private early: DirectFrom[] = [];
  private started = false;

  constructor(private readonly host: DirectHost) {
    host.client.onDirect = (m) => {
      const conn = this.conn;
      if (conn !== null && conn.far === m.sender) {
        // the offerer's new offer replaces a connection that has had one (docs/SIGNALING.md)
        if (m.description?.kind === "offer" && !conn.offerer && conn.remoteSet) this.open(conn.far);
        this.conn?.signal(m);
      } else if (this.early.length < MAX_EARLY) {
        this.early.push(m);
      }
    };
  }

  /** We publish now: from here on a direct connection is made when the room allows it. */
  start(): void {
    this.started = true;
    this.update();
  }

  /** After the join and after every roster change: a direct connection to the one other
   * member when the room allows it, none otherwise. */
  update(): void {
    const client = this.host.client;
    if (!this.started || this.host.ended() || !client.directAllowed) return;
    // the one other member whose announcement verified and who is trusted here (keys are
    // sealed to it): no direct connection with anyone else
    const schedule = client.schedule;
    const others = schedule === null ? [] : schedule.members;
    const far = others.length === 1 && schedule?.untrusted.length === 0 ? others[0]! : null;
    if (this.conn !== null && this.conn.far === far) return;
    if (far === null) this.closeConnection();
    else this.open(far);
  }

  /** A new direct connection to `far` (the one before, if any, closed). */
  private open(far: number): void {
    this.closeConnection();
    const client = this.host.client;
    this.placeholders = new Placeholders();
    const conn = new DirectConnection(this.host.e2ee, client, far,
      { audio: this.placeholders.track("audio"), video: this.placeholders.track("video") },
      (text) => this.host.notice(text));
    this.conn = conn;
    this.policy.connection("direct", "new", seconds());
    showDirectState("new");
    let proving = false;
    conn.pc.addEventListener("connectionstatechange", () => {
      if (conn !== this.conn) return;
      showDirectState(conn.pc.connectionState);
      this.policy.connection("direct", conn.pc.connectionState, seconds());
      if (conn.pc.connectionState === "connected") conn.connectedAt ??= seconds();
      if (!proving && conn.pc.connectionState === "connected") {
        proving = true; // not before: a far end that never connects costs no proof loop
        this.prove(conn);
      }
      this.decide();
    });
    conn.start();
    for (const m of this.early.splice(0)) if (m.sender === far) conn.signal(m);
    this.timer ??= setInterval(() => void this.poll(), POLL_MS);
  }

  /** Each direct sender gets its real track once proved (proof.ts); one never proved
   * closes the direct path (the call stays on the SFU, shown). */
  private prove(conn: DirectConnection): void {
    let proved = 0;
    for (const kind of ["audio", "video"] as const) {
      const sender = conn.transceivers[kind].sender;
      proveSender(this.host.e2ee, sender, kind, () => true, () => conn !== this.conn || this.host.ended())
        .then(async () => {
          await sender.replaceTrack(this.host.realTrack(kind));
          if (kind === "video") this.host.directVideo(sender);
          if (++proved === 2 && conn === this.conn) this.placeholders?.stop(); // both real now
        })
        .catch((error: unknown) => {
          if (conn !== this.conn || this.host.ended()) return;
          this.host.notice(`The direct path was closed: ${message(error)}`);
          this.closeConnection();
        });
    }
  }

  /** The SFU's publish connection changed state (or a new one was made: "new"). */
  sfuState(state: string): void {
    this.policy.connection("sfu", state, seconds());
    this.decide();
  }

  /** A receiver of `participant` on the SFU's subscribe connection. */
  sfuTrack(participant: number, receiver: RTCRtpReceiver, kind: Kind): void {
    const r = this.sfuReceivers.get(participant) ?? {};
    r[kind] = receiver;
    this.sfuReceivers.set(participant, r);
  }

  /** Whether `participant`'s streams come on the direct path now (a new SFU receiver of
   * it is then kept out of its tile until its frames come that way). */
  hidden(participant: number): boolean {
    return this.conn !== null && this.conn.far === participant && this.shown === "direct";
  }

  private async poll(): Promise<void> {
    const conn = this.conn;
    if (conn === null || this.host.ended()) return;
    let report;
    try {
      report = await this.host.e2ee.counters();
    } catch {
      return; // the pipeline's own check reports a silent worker
    }
    const ids: Record<Path, Set<string>> = { sfu: new Set(), direct: new Set() };
    const sfu = this.sfuReceivers.get(conn.far) ?? {};
    for (const kind of ["audio", "video"] as const) {
      const d = this.host.e2ee.transformOf(conn.transceivers[kind].receiver);
      if (d !== undefined) ids.direct.add(d);
      const s = sfu[kind] === undefined ? undefined : this.host.e2ee.transformOf(sfu[kind]);
      if (s !== undefined) ids.sfu.add(s);
    }
    const now = seconds();
    for (const path of ["sfu", "direct"] as const) {
      let more = 0;
      for (const t of report.transforms) {
        if (!ids[path].has(t.id)) continue;
        // the far end's first frames on a path may be its senders' proof on standby
        // (PATH_PROOF_FRAMES each): not media sent on that path
        const counted = Math.max(0, t.framesOut - PATH_PROOF_FRAMES);
        more += Math.max(0, counted - (this.lastOut.get(t.id) ?? 0));
        this.lastOut.set(t.id, counted);
      }
      if (more > 0) {
        this.decrypted[path] += more;
        this.policy.media(path, now);
        this.showFrom(path, conn.far);
      }
    }
    state.mediaPath.decrypted = { ...this.decrypted };
    this.decide();
    if (this.polls++ % PAIR_POLLS === 0 && conn.pc.connectionState === "connected") {
      const pair = selectedPath(await conn.pc.getStats());
      const where = (c: Record<string, unknown>): string => `${String(c["address"] ?? c["ip"] ?? "?")}:${String(c["port"] ?? "?")}`;
      if (pair !== null && conn === this.conn) {
        state.mediaPath.directPair = { local: where(pair.local), remote: where(pair.remote), protocol: String(pair.local["protocol"] ?? "udp") };
      }
    }
    this.retry(conn);
  }

  /** The offerer replaces a direct connection that is no use (we left it: it died or
   * the far end never came onto it; it failed; it did not connect in SETUP_TIMEOUT_S) by
   * a new one, after RETRY_FIRST_S, doubling up to RETRY_MAX_S while new ones do not
   * carry the far end's media; the answerer takes the new offer (as the Python client). */
  private retry(conn: DirectConnection): void {
    if (!conn.offerer) return;
    const now = seconds();
    const state = conn.pc.connectionState;
    const stuck = conn.connectedAt === null && now - conn.startedAt > SETUP_TIMEOUT_S;
    if (!(this.policy.left("direct") || state === "failed" || state === "closed" || stuck)) {
      if (conn.connectedAt !== null) {
        this.retryAfter = RETRY_FIRST_S;
        this.retryAt = null;
      }
      return;
    }
    if (this.retryAt === null) {
      this.retryAt = now + this.retryAfter;
    } else if (now >= this.retryAt) {
      this.retryAt = null;
      this.retryAfter = Math.min(RETRY_MAX_S, this.retryAfter * 2);
      this.open(conn.far);
    }
  }

  /** The far member's frames come on `path`: its tile shows that path's streams. */
  private showFrom(path: Path, far: number): void {
    if (this.shown === path || this.conn === null) return;
    const receivers = path === "direct"
      ? { audio: this.conn.transceivers.audio.receiver, video: this.conn.transceivers.video.receiver }
      : this.sfuReceivers.get(far) ?? {};
    if (receivers.audio === undefined && receivers.video === undefined) return;
    this.shown = path;
    for (const kind of ["audio", "video"] as const) {
      const r = receivers[kind];
      if (r !== undefined) this.host.show(far, r, kind);
    }
  }

  private decide(): void {
    if (this.host.ended()) return;
    const decision = this.policy.decide(seconds());
    if (decision !== null) {
      this.policy.switched(decision.to, seconds());
      this.apply(decision.text);
    } else if (this.policy.active !== null) {
      this.apply(`${LABELS[this.policy.active]} connected first`);
    }
  }

  /** The worker sends on the policy's path from now on; shown. */
  private apply(reason: string): void {
    const to = this.policy.active;
    if (to === null) return;
    showActivePath(to, reason);
    if (to === this.applied) return;
    this.applied = to;
    this.applying = this.applying.then(() => this.host.e2ee.setActivePath(to)).catch(() => undefined);
  }

  private closeConnection(): void {
    const conn = this.conn;
    if (conn === null) return;
    this.conn = null;
    conn.close();
    this.host.directVideo(null);
    this.placeholders?.stop();
    this.placeholders = null;
    this.shown = null;
    state.mediaPath.directPair = null;
    showDirectState("none");
    this.policy.connection("direct", "closed", seconds());
    this.decide();
  }

  close(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.closeConnection();
    this.host.client.onDirect = null;
    clearPath();
  }
}
