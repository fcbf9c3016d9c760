/**
 * The browser's media E2EE pipeline: SFrame transforms on every RTCRtpSender and
 * RTCRtpReceiver of a call, run in one worker (transform-worker.ts), and a fail-closed
 * check that no frame goes around them.
 *
 *     const e2ee = new MediaE2EE({ workerUrl, onFatal: (e) => endCall(e) });
 *     e2ee.watch(subscribePc);                        // receivers: attached in 'track'
 *     e2ee.addTransceiver(publishPc, camTrack, { direction: "sendonly" });
 *     await e2ee.setSendingKey(Slot.VIDEO, kid, baseKey);
 *     await e2ee.installKey(peerKid, peerBaseKey);
 *
 * Chromium (156) applies an encoded transform only if it is assigned in the same task
 * as `addTransceiver`/`addTrack` created the sender, or, for a receiver, in the 'track'
 * event (which fires inside setRemoteDescription, before its promise settles); assigned
 * after any await or timer it is silently ignored and frames flow in clear text. So
 * `addTransceiver` and `watch` here attach synchronously, and nothing else should.
 *
 * Measured in Chromium 156 (tests/browser/test_web_media.py): a sender transform assigned
 * after `await` is ignored; a receiver transform assigned in 'track' or right after
 * `await setRemoteDescription` (before media flows) is applied.
 *
 * Because the failure is silent, the pipeline does not trust it: every `checkIntervalMs`
 * it compares the browser's own counts (getStats) with the worker's, per sender and
 * receiver (bypasscheck.ts), and on every guarded connection (`guard`, `watch`, `addTransceiver`) any sender or
 * receiver without a transform of this pipeline must not have moved a packet.
 *
 * More frames sent or decoded than went through the transform means a bypass: the
 * pipeline locks the worker (it drops every frame from then on), detaches every track it
 * sends (replaceTrack(null)), stops checking, and reports a fatal error through
 * `onFatal` and a "fatal" event. The caller must end the call. A dead or silent worker is
 * fatal too.
 *
 * A check sees a bypass only after frames went out; so the call page starts every sender
 * on a placeholder track and attaches the real camera or microphone only once that
 * sender's frames were proved to go through the worker (proof.ts), and shows or plays a
 * remote stream only once a check passed with its media moving (`passedCheck`).
 */

import { Slot } from "../crypto/kid.js";
import { DEFAULT_SUITE } from "../crypto/suites.js";
import { FatalMediaError, compare, measured, unprotected, type FatalDetail, type Tracked } from "./bypasscheck.js";
import type { CounterReport, Direction, FromWorker, MediaKind, MediaPathKind, ToWorker, TransformOptions } from "./messages.js";

export type { CounterReport, TransformCounters } from "./messages.js";
export { FatalMediaError, type FatalDetail } from "./bypasscheck.js";

export interface MediaE2EEOptions {
  /** URL of the bundled transform worker (an ES module). */
  readonly workerUrl: string | URL;
  /** Called once, on the first fatal error: the caller must end the call. */
  readonly onFatal: (error: FatalMediaError) => void;
  readonly cipherSuite?: number;
  /** How often getStats is compared with the worker (ms); default 1000. */
  readonly checkIntervalMs?: number;
  /** Frames (video) or packets (audio) a stat may run ahead of the worker before it is a
   * bypass: frames in flight between the encoder and the worker. Default 10 / 25. */
  readonly slackVideo?: number;
  readonly slackAudio?: number;
  /** How long the worker may take to answer (ms) before it counts as dead; default 5000. */
  readonly workerTimeoutMs?: number;
  /** Test builds of the worker only: sender transforms post back their first N wire frames. */
  readonly capture?: number;
}

interface Pending {
  resolve(value: FromWorker & { type: "reply"; ok: true }): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout>;
}

const MIME: Record<MediaKind, string> = { audio: "audio/opus", video: "video/vp8" };

/** Keep only Opus or VP8 on a transceiver (the codecs with an E2EE frame layout). */
export function restrictCodecs(transceiver: RTCRtpTransceiver, kind: MediaKind): void {
  const caps = RTCRtpReceiver.getCapabilities(kind);
  if (caps === null || typeof transceiver.setCodecPreferences !== "function") return;
  const codecs = caps.codecs.filter((c) => c.mimeType.toLowerCase() === MIME[kind]);
  if (codecs.length > 0) transceiver.setCodecPreferences(codecs);
}

/** What a new transceiver's transforms are bound to: its receiver to a participant (frames
 * of anyone else dropped), its sender to a path (sent only while that path is active). */
export interface Bound {
  readonly participant?: number;
  readonly path?: MediaPathKind;
}

export class MediaE2EE extends EventTarget {
  readonly worker: Worker;
  private readonly opts: MediaE2EEOptions;
  private readonly tracked: Tracked[] = [];
  private readonly guarded: RTCPeerConnection[] = [];
  private readonly attached = new WeakMap<RTCRtpSender | RTCRtpReceiver, string>(); // -> transform id
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private nextTransform = 1;
  private timer: ReturnType<typeof setInterval> | null = null;
  private running: Promise<boolean> | null = null;
  private readonly passed = new WeakSet<RTCRtpSender | RTCRtpReceiver>();
  /** Receivers of audio found behind the slack at the last check: how far (packets). */
  private readonly behind = new Map<string, number>();
  private failure: FatalMediaError | null = null;
  private closed = false;

  constructor(options: MediaE2EEOptions) {
    super();
    this.opts = options;
    this.worker = new Worker(options.workerUrl, { type: "module", name: "hotline-e2ee" });
    this.worker.onmessage = (event: MessageEvent<FromWorker>) => this.onWorkerMessage(event.data);
    this.worker.onerror = (event) => {
      event.preventDefault();
      this.fatal({ reason: "worker", message: "the E2EE worker failed" });
    };
    // Posted now, so it is the first message the worker sees.
    void this.request({ type: "configure", id: 0, cipherSuite: options.cipherSuite ?? DEFAULT_SUITE })
      .catch((error: unknown) => this.fatal({ reason: "worker", message: `configure: ${String(error)}` }));
  }

  /** The first fatal error, if there was one. */
  get fatalError(): FatalMediaError | null {
    return this.failure;
  }

  // ------------------------------------------------------------------ attaching

  /** pc.addTransceiver with the transforms attached in the same task (the only way
   * Chromium applies them), and the codecs restricted to Opus or VP8. */
  addTransceiver(
    pc: RTCPeerConnection, trackOrKind: MediaStreamTrack | MediaKind, init: RTCRtpTransceiverInit = {}, slot?: number,
    bind: Bound = {},
  ): RTCRtpTransceiver {
    const kind = (typeof trackOrKind === "string" ? trackOrKind : trackOrKind.kind) as MediaKind;
    if (kind !== "audio" && kind !== "video") throw new RangeError("audio or video only");
    const transceiver = pc.addTransceiver(trackOrKind, init);
    this.guard(pc);
    const direction = init.direction ?? "sendrecv";
    if (direction === "sendrecv" || direction === "sendonly") this.attachSender(transceiver.sender, kind, slot, bind.path);
    if (direction === "sendrecv" || direction === "recvonly") this.attachReceiver(transceiver.receiver, kind, bind.participant);
    restrictCodecs(transceiver, kind);
    return transceiver;
  }

  /** pc.addTrack (a sendrecv transceiver that an offer's m-line of its kind takes over,
   * so that the answering end of a direct connection has its transforms before the
   * offer) with both transforms attached in the same task, the receiver bound to
   * `bind.participant`, the sender to `bind.path`; codecs restricted to Opus or VP8. */
  addTrack(pc: RTCPeerConnection, track: MediaStreamTrack, stream: MediaStream, bind: Bound = {}): RTCRtpTransceiver {
    const kind = track.kind as MediaKind;
    if (kind !== "audio" && kind !== "video") throw new RangeError("audio or video only");
    const sender = pc.addTrack(track, stream);
    this.guard(pc);
    const transceiver = pc.getTransceivers().find((t) => t.sender === sender);
    if (transceiver === undefined) throw new Error("addTrack made no transceiver");
    this.attachSender(sender, kind, undefined, bind.path);
    this.attachReceiver(transceiver.receiver, kind, bind.participant);
    restrictCodecs(transceiver, kind);
    return transceiver;
  }

  /** Send on `path` from now on: the senders bound to the other path drop their frames
   * (media/messages.ts "path"); those of one slot share one SFrame counter. */
  setActivePath(path: MediaPathKind): Promise<void> {
    return this.request({ type: "path", id: 0, active: path }).then(() => undefined);
  }

  /** Receivers that setRemoteDescription creates get their transform in the 'track'
   * event, synchronously; and the connection is guarded. Call before the first
   * setRemoteDescription. `attribute` names the participant each new stream is
   * attributed to (-1: nobody): its transform then drops every frame of anyone else
   * (docs/PROTOCOL.md "Frames bound to their stream"). */
  watch(pc: RTCPeerConnection, attribute?: (event: RTCTrackEvent) => number): void {
    this.guard(pc);
    pc.addEventListener("track", (event) => {
      if (!this.attached.has(event.receiver)) this.attachReceiver(event.receiver, undefined, attribute?.(event));
    });
  }

  /** Check this connection as a whole: any sender or receiver of it without a transform
   * of this pipeline that sends or receives a packet is fatal ("unprotected"). `watch`
   * and `addTransceiver` do this for you. */
  guard(pc: RTCPeerConnection): void {
    if (!this.guarded.includes(pc)) this.guarded.push(pc);
    this.start();
  }

  /** Stop checking a connection about to be closed (a media restart drops it): its
   * senders and receivers leave the check, which would otherwise fail on a closed
   * connection's getStats. Call before `pc.close()`. */
  release(pc: RTCPeerConnection): void {
    const i = this.guarded.indexOf(pc);
    if (i >= 0) this.guarded.splice(i, 1);
    const ends = new Set<RTCRtpSender | RTCRtpReceiver>([...pc.getSenders(), ...pc.getReceivers()]);
    for (let k = this.tracked.length - 1; k >= 0; k--) {
      const t = this.tracked[k]!;
      if ((t.sender !== undefined && ends.has(t.sender)) || (t.receiver !== undefined && ends.has(t.receiver))) {
        this.tracked.splice(k, 1);
      }
    }
  }

  /** Attach a sender transform. Must run in the same task that created the sender
   * (no await, no timer in between); a late one is caught by the check, fatally. */
  attachSender(sender: RTCRtpSender, kind: MediaKind, slot?: number, path?: MediaPathKind): string {
    const base = { direction: "send" as const, kind, ...(slot === undefined ? {} : { slot }), ...(path === undefined ? {} : { path }) };
    return this.attach(sender, base, (t) => {
      sender.transform = t;
    }, { sender });
  }

  /** Attach a receiver transform: in the 'track' event, or in the task that created it.
   * With `participant`, only that participant's frames pass (see watch). */
  attachReceiver(receiver: RTCRtpReceiver, kind?: MediaKind, participant?: number): string {
    const k = (kind ?? receiver.track.kind) as MediaKind;
    const bound = participant === undefined ? {} : { participant };
    return this.attach(receiver, { direction: "recv", kind: k, ...bound }, (t) => {
      receiver.transform = t;
    }, { receiver });
  }

  private attach(
    target: RTCRtpSender | RTCRtpReceiver,
    base: { direction: Direction; kind: MediaKind; slot?: number; participant?: number; path?: MediaPathKind },
    assign: (t: RTCRtpScriptTransform) => void,
    ends: { sender?: RTCRtpSender; receiver?: RTCRtpReceiver },
  ): string {
    if (this.closed || this.failure !== null) throw new Error("the E2EE pipeline is closed");
    if (this.attached.has(target)) throw new Error("already has an E2EE transform");
    if (base.kind !== "audio" && base.kind !== "video") throw new RangeError("audio or video only");
    const id = `${base.direction}/${base.kind}/${this.nextTransform++}`;
    const capture = base.direction === "send" && this.opts.capture ? { capture: this.opts.capture } : {};
    const options: TransformOptions = { hotline: 1, id, ...base, ...capture };
    assign(new RTCRtpScriptTransform(this.worker, options));
    this.attached.set(target, id);
    this.tracked.push({ id, direction: base.direction, kind: base.kind, ...ends });
    this.start();
    return id;
  }

  /** The id of the transform on a sender or receiver (its counters' `id`), if any. */
  transformOf(target: RTCRtpSender | RTCRtpReceiver): string | undefined {
    return this.attached.get(target);
  }

  // ------------------------------------------------------------------------ keys

  /** Add a receiving key (a copy of baseKey goes to the worker; yours is left alone). */
  installKey(kid: bigint, baseKey: Uint8Array): Promise<void> {
    const copy = baseKey.slice();
    return this.request({ type: "install", id: 0, kid, baseKey: copy }, [copy.buffer]).then(() => undefined);
  }

  retireKey(kid: bigint): Promise<void> {
    return this.request({ type: "retire", id: 0, kid }).then(() => undefined);
  }

  /** The sending key of a slot (Slot.AUDIO, Slot.VIDEO, …), used from the next frame. */
  setSendingKey(slot: number, kid: bigint, baseKey: Uint8Array): Promise<void> {
    const copy = baseKey.slice();
    return this.request({ type: "send-key", id: 0, slot, kid, baseKey: copy }, [copy.buffer]).then(() => undefined);
  }

  async counters(): Promise<CounterReport> {
    const reply = await this.request({ type: "counters", id: 0 });
    if (reply.counters === undefined) throw new Error("no counters");
    return reply.counters;
  }

  /** Test builds of the worker only. */
  async testDecrypt(kind: MediaKind, wires: readonly Uint8Array[], participant?: number): Promise<unknown> {
    const bound = participant === undefined ? {} : { participant };
    return (await this.request({ type: "test-decrypt", id: 0, kind, wires, ...bound })).result;
  }

  // ---------------------------------------------------------------- the check

  private start(): void {
    if (this.timer !== null || this.closed) return;
    this.timer = setInterval(() => void this.check(), this.opts.checkIntervalMs ?? 1000);
  }

  /** One comparison of getStats with the worker's counters; true if all is well. Runs
   * by itself every checkIntervalMs; callable directly (tests, before showing media). */
  async check(): Promise<boolean> {
    // One at a time; a caller that comes during a check gets a check of its own after it.
    while (this.running !== null) await this.running.catch(() => false);
    if (this.failure !== null) return false;
    if (this.closed) return true;
    const run = this.checkOnce();
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = null;
    }
  }

  /** Whether a check has compared this sender's or receiver's moving media with the
   * worker and found it all through the transform (the call page shows or plays a
   * remote stream only after this). */
  passedCheck(end: RTCRtpSender | RTCRtpReceiver): boolean {
    return this.passed.has(end);
  }

  private async checkOnce(): Promise<boolean> {
    // getStats first, the worker after: its counts only grow, so a frame counted by
    // the browser was counted by the worker by then unless it went around it (or is
    // still in flight, which the slack covers).
    const entries = [...this.tracked];
    const stats = await Promise.all(entries.map((t) => (t.sender ?? t.receiver)!.getStats()));
    const bare = await unprotected(this.guarded, this.attached);
    if (bare !== null) {
      this.fatal(bare);
      return false;
    }
    let report: CounterReport;
    try {
      report = await this.counters();
    } catch (error) {
      this.fatal({ reason: "worker", message: `no counters from the E2EE worker: ${String(error)}` });
      return false;
    }
    const byId = new Map(report.transforms.map((c) => [c.id, c]));
    for (let i = 0; i < entries.length; i++) {
      const t = entries[i]!;
      const slack = t.kind === "video" ? (this.opts.slackVideo ?? 10) : (this.opts.slackAudio ?? 25);
      const problem = compare(t, stats[i]!, byId.get(t.id), slack);
      if (problem !== null && !this.lagging(t, problem)) {
        this.fatal(problem);
        return false;
      }
      if (problem === null) this.behind.delete(t.id);
    }
    for (let i = 0; i < entries.length; i++) {
      const t = entries[i]!;
      if (measured(t, stats[i]!) && !this.behind.has(t.id)) this.passed.add((t.sender ?? t.receiver)!);
    }
    return true;
  }

  /** An audio receiver's packets counted by the browser but not yet read by a busy
   * worker (Firefox ESR on a loaded machine: 28 packets behind once, over the slack of
   * 25) are a lag, not a bypass, as long as the gap does not grow: a receiver whose
   * packets go around the transform falls further behind at every check (50 a second).
   * So the first time over the slack is noted and the receiver is not shown or played
   * meanwhile; over it again by more than before is a bypass. Senders and video
   * receivers (framesDecoded, after the transform) are judged at once. */
  private lagging(t: Tracked, problem: FatalDetail): boolean {
    if (t.direction !== "recv" || t.kind !== "audio") return false;
    const gap = (problem.statValue ?? 0) - (problem.transformed ?? 0);
    const before = this.behind.get(t.id);
    this.behind.set(t.id, gap);
    return before === undefined || gap <= before;
  }

  private fatal(detail: FatalDetail): void {
    if (this.failure !== null || this.closed) return;
    const error = new FatalMediaError(detail);
    this.failure = error;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    // Fail closed at once, before the caller reacts: the worker drops everything, and
    // nothing more is captured from any sender we know.
    this.worker.postMessage({ type: "lockdown", id: -1 } satisfies ToWorker);
    for (const t of this.tracked) {
      if (t.sender !== undefined) void t.sender.replaceTrack(null).catch(() => undefined);
    }
    for (const pc of this.guarded) {
      for (const sender of pc.getSenders()) void sender.replaceTrack(null).catch(() => undefined);
    }
    this.dispatchEvent(new CustomEvent<FatalDetail>("fatal", { detail }));
    this.opts.onFatal(error);
  }

  // ------------------------------------------------------------------- worker

  private request(message: ToWorker, transfer: Transferable[] = []): Promise<FromWorker & { type: "reply"; ok: true }> {
    if (this.closed) return Promise.reject(new Error("the E2EE pipeline is closed"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error("the E2EE worker did not answer"));
      }, this.opts.workerTimeoutMs ?? 5000);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.postMessage({ ...message, id }, transfer);
    });
  }

  private onWorkerMessage(message: FromWorker): void {
    if (message.type === "capture") {
      this.dispatchEvent(new CustomEvent("capture", { detail: message }));
      return;
    }
    const pending = this.pending.get(message.id);
    if (pending === undefined) return;
    this.pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message);
    else pending.reject(new Error(message.error));
  }

  /** Stop checking and end the worker (the call is over). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new Error("the E2EE pipeline is closed"));
    }
    this.pending.clear();
    this.worker.terminate();
  }
}

export { Slot };
