/**
 * One call in the page: signaling and the key schedule (SignalingClient), one
 * RTCPeerConnection that publishes Opus + VP8 through the E2EE transforms
 * (MediaE2EE.addTransceiver: attached in the same task), one that answers the SFU's
 * subscribe offers (MediaE2EE.watch: receivers get their transform in 'track'), and the
 * status line (quality, active speaker). What we send and its controls are localmedia.ts;
 * the others' tiles roster.ts and what they show tilefigures.ts; the group code
 * codeview.ts; the path and its restarts mediapath.ts; the direct path beside the SFU's
 * in a two-party room that allows it, and the choice between them, directpath.ts.
 *
 * Every batch of key actions is mirrored into the transform worker: sending keys per
 * slot, receiving keys installed and retired. A fatal error of MediaE2EE (a bypass, a
 * dead worker) or a lost signaling connection that cannot be resumed ends the call.
 *
 * Path loss: when the media restart policy says so (media/mediarestart.ts) the media
 * connections are replaced (`media_restart`: the SFU drops both connections, we publish
 * and subscribe again on new ones, in the same seat and with the same keys). Restarts,
 * the offers of a dropped connection and the answers go through one queue, in order.
 */

import type { KeyScheduleAction } from "../crypto/keyschedule/index.js";
import type { Connection } from "../media/mediarestart.js";
import { MediaE2EE } from "../media/pipeline.js";
import { proveSender } from "../media/proof.js";
import { LISTEN_ONLY, type MediaRestarted, type StreamInfo, type SubscribeOffer } from "../protocol/messages.js";
import type { ClientEvent, SignalingClient } from "../protocol/signaling.js";
import { AudioOut } from "./audioout.js";
import { Channels } from "./channels.js";
import { setVerified, showCode } from "./codeview.js";
import { DirectPath } from "./directpath.js";
import { mirrorKeys } from "./keys.js";
import { LocalMedia } from "./localmedia.js";
import { MediaPath } from "./mediapath.js";
import { gathered, onlyMidExtension } from "./negotiation.js";
import { rtcConfiguration } from "./pathlabel.js";
import { clearPath } from "./pathview.js";
import type { PrejoinChoice } from "./prejoin.js";
import { LevelMeter } from "./prejoin.js";
import { workerUrl } from "./provenance.js";
import { SpeakerPicker, grade, qualityText, received, type Received } from "./quality.js";
import { RecordingUi } from "./recordingui.js";
import { Roster } from "./roster.js";
import { PhaseControls } from "./phaseview.js";
import { readTile, showProblems } from "./tilefigures.js";
import { SelfLine, clearRoster, roleLabel } from "./tiles.js";
import { alarm } from "./trustui.js";
import { $, message, showError, sleep, state, status } from "./view.js";

const STATS_INTERVAL_MS = 500;

export class Call {
  readonly e2ee: MediaE2EE;
  ended = false;
  /** The pin alarm of this call was raised (by the pin_mismatch event). */
  private pinAlarmed = false;
  private publishPc: RTCPeerConnection | null = null;
  private subscribePc: RTCPeerConnection | null = null;
  private readonly local: LocalMedia;
  /** What to join with again if the server goes away (the same devices and choices). */
  readonly again: Omit<PrejoinChoice, "media"> | null;
  private readonly streams = new Map<string, StreamInfo>(); // by mid
  private readonly boundTo = new WeakMap<RTCRtpReceiver, number>(); // participant of each receiver's transform
  private readonly roster: Roster;
  /** What we hear: each participant's audio at the gain of our channel choice. */
  private readonly audioOut = new AudioOut();
  private readonly channels: Channels;
  private readonly recordingUi: RecordingUi;
  private readonly speaker = new SpeakerPicker();
  private selfLine: SelfLine | null = null;
  private selfMeter: LevelMeter | null = null;
  private lastReceived: Received | null = null;
  private offers: Promise<void> = Promise.resolve();
  private readonly path = new MediaPath((text) => this.notice(text));
  /** The direct path and the choice between it and the SFU (two-party rooms that allow it). */
  private readonly direct: DirectPath;
  private timer: ReturnType<typeof setInterval> | null = null;
  /** OPEN / CLOSED and its controls (from the join on). */
  private phaseControls: PhaseControls | null = null;
  private readonly abort = new AbortController();

  constructor(
    readonly client: SignalingClient, readonly room: string, choice: PrejoinChoice | null,
    private readonly onEnded: (error: string | null, connectionLost: boolean) => void,
    /** A hotline's test or call room is entered with `hotline_join`, not `join`. */
    private readonly joinRequest?: { readonly type: "hotline_join"; readonly call_id: string },
  ) {
    this.local = new LocalMedia(choice, {
      ended: () => this.ended,
      changed: () => {
        this.selfLine?.render(state.activeSpeaker === state.party);
        if (!this.ended) this.client.setMedia(state.local);
      },
      notice: (text) => this.notice(text),
    }, this.abort.signal);
    this.roster = new Roster(client, () => this.ended, (pid) => this.channels.sink(pid));
    this.channels = new Channels(client, this.roster, this.audioOut, this.abort.signal);
    this.recordingUi = new RecordingUi(client, (text) => this.notice(text));
    this.again = choice === null ? null : { audio: choice.audio, video: choice.video, constraints: choice.constraints };
    this.e2ee = new MediaE2EE({ workerUrl: workerUrl(), onFatal: (e) => void this.end(`E2EE failure, call ended: ${e.message}`) });
    client.onKeyActions = (actions) => this.mirror(actions);
    client.onSubscribeOffer = (offer) => {
      this.offers = this.offers.then(() => this.onOffer(offer)).catch((error: unknown) => {
        void this.end(`subscribe offer failed: ${message(error)}`);
      });
    };
    this.direct = new DirectPath({
      e2ee: this.e2ee, client, ended: () => this.ended,
      realTrack: (kind) => this.local.realTrack(kind),
      directVideo: (sender) => { this.local.directVideo = sender; },
      show: (pid, receiver, kind) => this.roster.tile(pid)?.addTrack(receiver, kind),
      notice: (text) => this.notice(text),
    });
    client.onEvent.add((e) => {
      if (e.kind === "joined" || e.kind === "member_joined" || e.kind === "member_left") this.recordingUi.render();
      if (e.kind === "member_joined" || e.kind === "member_left" || e.kind === "accepted" || e.kind === "keys_rotated") this.direct.update();
      this.onEvent(e);
    });
  }

  // ------------------------------------------------------------------ keys and code

  /** Keys into the worker, in the order the key schedule produced them. */
  private mirror(actions: readonly KeyScheduleAction[]): void {
    if (this.ended) return;
    mirrorKeys(this.e2ee, actions, (error: unknown) => {
      if (!this.ended) void this.end(`E2EE worker refused a key: ${message(error)}`);
    }, showCode);
  }

  /** The "verified" mark: set by the user after reading the code aloud. */
  setVerified(verified: boolean): void {
    setVerified(verified);
  }

  // ------------------------------------------------------------------ roster events

  private onEvent(e: ClientEvent): void {
    if (this.ended) return;
    if (this.roster.onEvent(e)) {
      if (e.kind === "member_joined") this.channels.apply(); // its channel shown
      return;
    }
    if (this.channels.onEvent(e) || this.phaseControls?.onEvent(e)) return;
    if (e.kind === "pin_mismatch") {
      const text = String(e.data["message"] ?? "the far end's key is not pinned");
      this.pinAlarmed = true;
      alarm(text);
      void this.end(`ALARM: ${text}`);
    } else if (e.kind === "connection_lost") {
      state.signaling = "reconnecting";
      this.notice("The connection to the server broke: reconnecting… (the call's media goes on)");
    } else if (e.kind === "resumed") {
      state.signaling = "connected";
      state.resumes += 1;
      this.notice("Reconnected to the server.");
    } else if (e.kind === "closed") {
      void this.end(`connection to the server lost: ${String(e.data["reason"] ?? "")}`, true);
    }
  }

  // ------------------------------------------------------------------ the call

  async start(): Promise<void> {
    state.phase = "joining";
    status(`Joining ${this.room}…`);
    await this.client.join(this.room, 10.0, this.joinRequest);
    if (this.client.pinFailure !== null) { // a hotline's far end is not the pinned key
      if (!this.pinAlarmed) alarm(this.client.pinFailure.message); // once per refused call
      throw this.client.pinFailure;
    }
    state.participantId = this.client.participantId;
    state.role = this.client.role;
    this.phaseControls = new PhaseControls(this.client, (text) => this.notice(text));
    this.selfLine = new SelfLine(this.client.party, this.client.role);
    this.channels.self = this.selfLine;
    this.channels.start();
    for (const pid of this.client.names.keys()) {
      if (pid !== this.client.participantId) this.roster.tile(pid);
    }
    for (const pid of this.client.unverified.keys()) this.roster.showTrust(pid);
    this.channels.apply();
    const code = this.client.code;
    showCode(code === null ? null : { digits: code.digits, words: code.words });
    setVerified(false);
    const listenOnly = LISTEN_ONLY.has(this.client.role);
    if (listenOnly) {
      state.local = { audio: false, video: false, screen: false };
    } else {
      this.local.wireControls();
    }
    this.local.renderControls(listenOnly);
    this.selfLine.render(state.activeSpeaker === state.party);
    if (!listenOnly) {
      await this.publish();
      this.direct.start();
      if (!state.local.audio || !state.local.video) this.client.setMedia(state.local);
      if (this.local.microphone !== null) this.selfMeter = new LevelMeter(this.local.microphone);
    }
    this.local.showSelf();
    this.path.start();
    this.timer = setInterval(() => void this.poll(), STATS_INTERVAL_MS);
    if (this.ended) return;
    state.phase = "in-call";
    status(listenOnly ? `In call: ${this.room} (listening only, as ${roleLabel(this.client.role)})` : `In call: ${this.room}`);
  }

  private async publish(): Promise<void> {
    const pc = new RTCPeerConnection(rtcConfiguration(this.client.iceServers));
    this.publishPc = pc;
    this.mediaState("publish", pc);
    const stream = new MediaStream();
    // audio first, then video: slots 0 and 1; each transform attached in this same task
    // (after a media restart: the same SFrame senders in the worker). Each sender starts
    // on a placeholder (silence, a dark canvas): the real microphone and camera are
    // attached only once the worker proved it encrypts that sender's frames (proof.ts).
    const placeholders = this.local.newPlaceholders();
    const init: RTCRtpTransceiverInit = { direction: "sendonly", streams: [stream] };
    const audio = this.e2ee.addTransceiver(pc, placeholders.track("audio"), init, undefined, { path: "sfu" });
    const video = this.e2ee.addTransceiver(pc, placeholders.track("video"), init, undefined, { path: "sfu" });
    onlyMidExtension(audio);
    onlyMidExtension(video);
    this.local.videoSender = video.sender;
    const proofStarted = performance.now();
    for (const [kind, sender] of [["audio", audio.sender], ["video", video.sender]] as const) {
      proveSender(this.e2ee, sender, kind, () => pc.connectionState === "connected",
        () => this.ended || pc !== this.publishPc)
        .then(() => this.attachReal(pc, kind, sender, proofStarted))
        .catch((error: unknown) => {
          if (this.ended || pc !== this.publishPc) return; // the call ended or the media restarted
          void this.end(`E2EE failure, call ended: ${message(error)}`);
        });
    }
    pc.addEventListener("connectionstatechange", () => {
      if (pc !== this.publishPc) return; // dropped by a media restart
      state.media.publish = pc.connectionState;
      this.mediaState("publish", pc);
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await this.client.publish(pc.localDescription!.sdp);
    if (this.ended || pc !== this.publishPc) return;
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
  }

  /** A sender was proved to go through the worker: its real track goes on it now. */
  private async attachReal(pc: RTCPeerConnection, kind: "audio" | "video", sender: RTCRtpSender, since: number): Promise<void> {
    if (this.ended || pc !== this.publishPc) return;
    state.media.proofMs[kind] = Math.round(performance.now() - since);
    await this.local.attachReal(kind, sender);
  }

  /** The queue of subscribe offers and media restarts (one at a time, in order). */
  private async onOffer(item: SubscribeOffer | MediaRestarted | "restart"): Promise<void> {
    if (this.ended) return;
    if (item === "restart") {
      this.sendRestart();
    } else if (item.type === "media_restarted") {
      if (this.path.restarted() && !LISTEN_ONLY.has(this.client.role)) {
        this.publish().catch((error: unknown) => this.notice(`Reconnecting media: ${message(error)}`)); // tried again
      }
    } else if (this.path.policy.pending === 0) {
      await this.answer(item);
    } // else: an offer for a connection the restart dropped
  }

  /** A connection was made or its state changed: connected (after a restart: say so), or
   * dead (the policy decides). */
  private mediaState(conn: Connection, pc: RTCPeerConnection): void {
    this.path.connection(conn, pc);
    if (conn === "publish") this.direct.sfuState(pc.connectionState);
    this.watchPath();
  }

  /** After every connection change and stats poll: restart the media if the policy says so. */
  private watchPath(): void {
    if (this.ended) return;
    const decision = this.path.decide();
    if (decision !== null) this.restartMedia(decision.text);
  }

  /** Replace the media connections (publish and subscribe) with new ones: same seat, same keys. */
  private restartMedia(reason: string): void {
    if (this.ended || this.path.policy.queued) return;
    this.path.restarting(reason);
    this.offers = this.offers.then(() => this.onOffer("restart")).catch((error: unknown) => {
      void this.end(`media restart failed: ${message(error)}`);
    });
  }

  private sendRestart(): void {
    for (const pc of [this.publishPc, this.subscribePc]) {
      if (pc === null) continue;
      this.e2ee.release(pc);
      pc.close();
    }
    this.publishPc = null;
    this.subscribePc = null;
    this.local.videoSender = null;
    state.media.publish = state.media.subscribe = "new";
    for (const tile of this.roster.tiles.values()) {
      tile.videoReceiver = null; // their connection is closed; new ones come with the new offer
      tile.audioReceiver = null;
    }
    this.lastReceived = null;
    this.path.restartSent();
    this.client.requestMediaRestart(this.path.reason);
  }

  private async answer(offer: SubscribeOffer): Promise<void> {
    if (this.ended) return;
    let pc = this.subscribePc;
    if (pc === null) {
      const sub = new RTCPeerConnection(rtcConfiguration(this.client.iceServers));
      pc = sub;
      this.subscribePc = sub;
      this.mediaState("subscribe", sub);
      // its 'track' listener comes first: the transform is attached before anything else,
      // bound to the participant the offer attributes the stream to
      this.e2ee.watch(sub, (event) => this.attribute(event));
      sub.addEventListener("track", (event) => this.onTrack(event));
      sub.addEventListener("connectionstatechange", () => {
        if (sub !== this.subscribePc) return; // dropped by a media restart
        state.media.subscribe = sub.connectionState;
        this.mediaState("subscribe", sub);
      });
    }
    for (const s of offer.streams) this.streams.set(s.mid, s);
    await pc.setRemoteDescription({ type: "offer", sdp: offer.sdp });
    await pc.setLocalDescription(await pc.createAnswer());
    await gathered(pc);
    if (this.ended) return;
    this.client.answerSubscription(pc.localDescription!.sdp);
    state.media.offers += 1;
  }

  /** The participant a new stream is attributed to, when its transform is attached (in
   * 'track'): its frames are shown in that participant's tile only, and the transform
   * drops every frame of anyone else. -1 (nobody): a stream the offer did not announce. */
  private attribute(event: RTCTrackEvent): number {
    const mid = event.transceiver.mid;
    const pid = (mid === null ? undefined : this.streams.get(mid))?.participant_id ?? -1;
    this.boundTo.set(event.receiver, pid);
    return pid;
  }

  private onTrack(event: RTCTrackEvent): void {
    if (event.target !== this.subscribePc) return;
    // the participant its transform is bound to (a later offer cannot relabel it)
    const pid = this.boundTo.get(event.receiver);
    if (pid === undefined || pid < 0) return; // not announced: it is guarded and never shown
    const kind = event.track.kind === "audio" ? "audio" : "video";
    this.direct.sfuTrack(pid, event.receiver, kind);
    if (this.direct.hidden(pid)) return; // its frames come on the direct path now
    this.roster.tile(pid)?.addTrack(event.receiver, kind);
  }

  private notice(text: string): void {
    $("call-notice").textContent = text;
  }

  // ------------------------------------------------------------------ what we see

  /** Every STATS_INTERVAL_MS: what we see, then the path watch (after the receive
   * counters were read, so that a slow poll is not taken for a silent path). */
  private async poll(): Promise<void> {
    try {
      await this.pollOnce();
    } finally {
      this.watchPath();
    }
  }

  private async pollOnce(): Promise<void> {
    if (this.ended) return;
    let counters = null;
    try {
      counters = await this.e2ee.counters();
      state.worker = counters;
      state.sent = { video: counters.totals["send/video"]?.framesOut ?? 0, audio: counters.totals["send/audio"]?.framesOut ?? 0 };
    } catch {
      // the pipeline's periodic check reports a silent worker as fatal
    }
    // A stream is shown or played only after a check passed with its media moving.
    const tiles = [...this.roster.tiles.values()];
    if (tiles.some((t) => t.waiting("video") || t.waiting("audio")) && !(await this.e2ee.check())) return;
    for (const tile of tiles) {
      if (tile.videoReceiver !== null && this.e2ee.passedCheck(tile.videoReceiver)) tile.admit("video");
      if (tile.audioReceiver !== null && this.e2ee.passedCheck(tile.audioReceiver)) tile.admit("audio");
    }
    const byTransform = new Map((counters?.transforms ?? []).map((t) => [t.id, t]));
    const levels = new Map<string, number>();
    const problems: string[] = [];
    for (const [pid, tile] of this.roster.tiles) {
      const before = this.roster.decrypted.get(pid) ?? { out: 0, failed: 0 };
      this.roster.decrypted.set(pid, await readTile(tile, this.e2ee, byTransform, before, this.client.unverified.has(pid), problems,
        this.audioOut.level(pid)));
      if (tile.audioReceiver !== null) levels.set(tile.summary.name, tile.summary.audio ? tile.summary.audioLevel : 0);
    }
    if (this.selfMeter !== null) levels.set(state.party, state.local.audio ? this.selfMeter.level() : 0);
    state.activeSpeaker = this.speaker.update(levels, performance.now());
    for (const tile of this.roster.tiles.values()) tile.render(state.activeSpeaker === tile.summary.name);
    this.selfLine?.render(state.activeSpeaker === state.party);
    $("speaking").textContent = state.activeSpeaker === null ? "" : `Speaking: ${state.activeSpeaker === state.party ? "you" : state.activeSpeaker}`;
    showProblems(problems);
    await this.pollPath();
  }

  private async pollPath(): Promise<void> {
    // the path of what we send (what we receive, for a listen-only role); quality from
    // what we receive
    const pathPc = this.publishPc ?? this.subscribePc;
    if (pathPc === null || this.ended) return;
    const pathReport = await pathPc.getStats();
    if (pathPc !== (this.publishPc ?? this.subscribePc) || this.ended || this.path.policy.queued) return; // restarted meanwhile
    this.path.stats(pathPc === this.publishPc ? "publish" : "subscribe", pathReport);
    const report = this.subscribePc === null ? null : await this.subscribePc.getStats();
    if (report === null || this.ended) return;
    const now = received(report);
    state.quality = grade(report, this.lastReceived, now);
    this.lastReceived = now;
    $("quality").textContent = qualityText(state.quality);
    $("quality").dataset["grade"] = state.quality.grade;
  }

  // ------------------------------------------------------------------ the end

  /** End the call: everything closed; `error` is shown. */
  async end(error: string | null, connectionLost = false): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    this.abort.abort();
    if (this.timer !== null) clearInterval(this.timer);
    state.phase = "ended";
    if (error !== null) showError(error);
    status(error === null ? "Leaving…" : "Call ended.");
    this.local.stop();
    this.selfMeter?.close();
    this.recordingUi.close();
    this.direct.close();
    this.publishPc?.close();
    this.subscribePc?.close();
    this.e2ee.close();
    this.roster.removeAll();
    this.audioOut.close();
    $("interpretation").hidden = true;
    this.selfLine?.remove();
    this.phaseControls?.close();
    clearRoster();
    showProblems([]);
    ($("self-video") as HTMLVideoElement).srcObject = null;
    if (this.client.participantId !== null) {
      await Promise.race([this.client.leave().catch(() => undefined), sleep(2000)]);
    }
    this.client.close();
    state.code = null;
    state.participantId = null;
    state.activeSpeaker = null;
    state.path = null;
    $("code-digits").textContent = "";
    $("code-words").textContent = "";
    $("call-notice").textContent = "";
    clearPath(); // the next call's path log starts empty
    $("media-path").textContent = "connecting…";
    this.onEnded(error, connectionLost);
  }
}
