/**
 * One call in the page: signaling and the key schedule (SignalingClient), one
 * RTCPeerConnection that publishes Opus + VP8 through the E2EE transforms
 * (MediaE2EE.addTransceiver: attached in the same task), one that answers the SFU's
 * subscribe offers (MediaE2EE.watch: receivers get their transform in 'track'), the
 * controls (mute, camera, screen share, leave), the participant list, the group code
 * with its "verified" mark, and the status line (path, quality, active speaker).
 *
 * Every batch of key actions is mirrored into the transform worker: sending keys per
 * slot, receiving keys installed and retired. Mute keeps sending (silence, encrypted);
 * camera off and screen share swap the video sender's track (replaceTrack keeps the
 * sender, so its transform stays). A fatal error of MediaE2EE (a bypass, a dead worker)
 * or a lost signaling connection that cannot be resumed ends the call and shows the error.
 *
 * Path loss: a media connection that fails, stays `disconnected` for DISCONNECTED_MS,
 * receives nothing for SILENT_MS (bytes on the selected candidate pair, polled), or is not
 * up SETUP_TIMEOUT_MS after it was made is replaced (`media_restart`: the SFU
 * drops both connections, we publish and subscribe again on new ones, in the same seat
 * and with the same keys); the page says "Network changed: reconnecting media…", then
 * how long it took. Restarts, the offers of a dropped connection and the answers go
 * through one queue, in order.
 */

import type { KeyScheduleAction } from "../crypto/keyschedule/index.js";
import { MediaE2EE } from "../media/pipeline.js";
import { Placeholders, proveSender } from "../media/proof.js";
import { LISTEN_ONLY, type MediaRestarted, type StreamInfo, type SubscribeOffer } from "../protocol/messages.js";
import type { ClientEvent, SignalingClient } from "../protocol/signaling.js";
import { mirrorKeys } from "./keys.js";
import type { PrejoinChoice } from "./prejoin.js";
import { LevelMeter } from "./prejoin.js";
import { workerUrl } from "./provenance.js";
import {
  SpeakerPicker, describePath, grade, qualityText, received, selectedPath, statMax, statSum, type Received,
} from "./quality.js";
import { SelfLine, Tile, clearRoster, roleLabel } from "./tiles.js";
import { alarm, showTrust } from "./trustui.js";
import { $, button, message, setToggle, showError, sleep, state, status } from "./view.js";

const STATS_INTERVAL_MS = 500;
const GATHER_TIMEOUT_MS = 5000;
const MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid";
/** A media connection `disconnected` this long is replaced (media restart). */
const DISCONNECTED_MS = 2000;
/** Nothing received this long on the connection that carries our media (the SFU sends
 * receiver reports every second) is a dead path too; listening only, media or nothing. */
const SILENT_MS = 3000;
const SILENT_LISTENING_MS = 6000;
/** New media connections not connected this long after a restart are replaced again. */
const SETUP_TIMEOUT_MS = 8000;
/** Failure reasons that do not mean "cannot decrypt" (an empty Opus payload). */
const BENIGN = new Set(["empty"]);
/** Frames of another participant (or kind) in a participant's stream: a swap, not a key problem. */
const WRONG_STREAM = new Set(["wrong_participant", "wrong_slot"]);

interface HeaderExtensionCapability {
  readonly uri: string;
  readonly direction: string;
}

type WithHeaderExtensionControl = RTCRtpTransceiver & {
  getHeaderExtensionsToNegotiate?: () => HeaderExtensionCapability[];
  setHeaderExtensionsToNegotiate?: (extensions: HeaderExtensionCapability[]) => void;
};

/**
 * Offer no RTP header extension but the MID: clear-text audio levels would tell who
 * speaks when, which end-to-end encryption should not leak, and the SFU forwards only
 * what both ends negotiated. (Chromium's header extension control API; without it, the
 * browser's defaults are offered and the SFU renumbers or drops them.)
 */
function onlyMidExtension(transceiver: RTCRtpTransceiver): void {
  const t = transceiver as WithHeaderExtensionControl;
  if (t.getHeaderExtensionsToNegotiate === undefined || t.setHeaderExtensionsToNegotiate === undefined) return;
  t.setHeaderExtensionsToNegotiate(t.getHeaderExtensionsToNegotiate().map((e) => ({
    ...e, direction: e.uri === MID_URI ? e.direction : "stopped",
  })));
}

export function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve(); // send what we have
    }, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}

export class Call {
  readonly e2ee: MediaE2EE;
  ended = false;
  private publishPc: RTCPeerConnection | null = null;
  private subscribePc: RTCPeerConnection | null = null;
  private videoSender: RTCRtpSender | null = null;
  /** What each sender of the current publish connection sends until proved (proof.ts). */
  private placeholders: Placeholders | null = null;
  private proven = { audio: false, video: false };
  private camera: MediaStreamTrack | null;
  private screen: MediaStreamTrack | null = null;
  private readonly microphone: MediaStreamTrack | null;
  private readonly cameraConstraints: MediaTrackConstraints;
  /** What to join with again if the server goes away (the same devices and choices). */
  readonly again: Omit<PrejoinChoice, "media"> | null;
  private readonly streams = new Map<string, StreamInfo>(); // by mid
  private readonly boundTo = new WeakMap<RTCRtpReceiver, number>(); // participant of each receiver's transform
  private readonly tiles = new Map<number, Tile>();
  private readonly failures = new Map<number, { out: number; failed: number }>(); // by participant, last poll
  private readonly speaker = new SpeakerPicker();
  private selfLine: SelfLine | null = null;
  private selfMeter: LevelMeter | null = null;
  private lastReceived: Received | null = null;
  private offers: Promise<void> = Promise.resolve();
  /** Media restart: one queued, how many media_restarted are still to come, when the
   * current connections were made and connected, when a connection went disconnected. */
  private restartQueued = false;
  private restartsPending = 0;
  private mediaSince = 0;
  private mediaConnected = false;
  private restartAt: number | null = null;
  private restartReason = "";
  /** "Media reconnected after N s", kept in the notice when the new path shows up. */
  private reconnected: string | null = null;
  /** A path change seen while reconnecting: shown with "Media reconnected". */
  private pathNotice: string | null = null;
  private disconnectedSince: number | null = null;
  private rxBytes = -1;
  private rxAt: number | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private readonly abort = new AbortController();

  constructor(
    readonly client: SignalingClient, readonly room: string, choice: PrejoinChoice | null,
    private readonly onEnded: (error: string | null, connectionLost: boolean) => void,
    /** A hotline's test or call room is entered with `hotline_join`, not `join`. */
    private readonly joinRequest?: { readonly type: "hotline_join"; readonly call_id: string },
  ) {
    this.microphone = choice?.media.getAudioTracks()[0] ?? null;
    this.camera = choice?.media.getVideoTracks()[0] ?? null;
    if (this.microphone !== null) this.microphone.enabled = choice?.audio ?? false;
    if (this.camera !== null && !choice?.video) {
      this.camera.stop(); // camera off: the light goes off too
      this.camera = null;
    }
    this.cameraConstraints = choice?.constraints.video ?? {};
    this.again = choice === null ? null : { audio: choice.audio, video: choice.video, constraints: choice.constraints };
    state.local = { audio: this.microphone !== null && (choice?.audio ?? false), video: this.camera !== null, screen: false };
    this.e2ee = new MediaE2EE({ workerUrl: workerUrl(), onFatal: (e) => void this.end(`E2EE failure, call ended: ${e.message}`) });
    client.onKeyActions = (actions) => this.mirror(actions);
    client.onSubscribeOffer = (offer) => {
      this.offers = this.offers.then(() => this.onOffer(offer)).catch((error: unknown) => {
        void this.end(`subscribe offer failed: ${message(error)}`);
      });
    };
    client.onEvent.add((e) => this.onEvent(e));
  }

  // ------------------------------------------------------------------ keys and code

  /** Keys into the worker, in the order the key schedule produced them. */
  private mirror(actions: readonly KeyScheduleAction[]): void {
    if (this.ended) return;
    mirrorKeys(this.e2ee, actions, (error: unknown) => {
      if (!this.ended) void this.end(`E2EE worker refused a key: ${message(error)}`);
    }, (code) => this.showCode(code));
  }

  /** The code, or null while the epoch's code is pending ("verifying…"). */
  private showCode(code: { digits: string; words: string } | null): void {
    const wasVerified = state.verified;
    state.code = code;
    $("code-digits").textContent = code?.digits ?? "verifying…";
    $("code-words").textContent = code?.words ?? "";
    if (wasVerified) this.setVerified(false, true); // a new epoch's code must be checked again
  }

  /** The "verified" mark: set by the user after reading the code aloud; reset when the
   * code changes. */
  setVerified(verified: boolean, wasVerified = false): void {
    if (verified && state.code === null) return;
    state.verified = verified;
    setToggle("verify-button", verified, verified ? "Verified ✓" : "Mark as verified");
    $("verify-state").textContent = verified
      ? `You checked this code with everyone at ${new Date().toLocaleTimeString()}.`
      : wasVerified
        ? "The code changed (someone joined or left): read it aloud and verify again."
        : "Not verified yet: read the code aloud; everyone must see the same.";
    $("group-code").classList.toggle("verified", verified);
  }

  // ------------------------------------------------------------------ roster events

  private onEvent(e: ClientEvent): void {
    if (this.ended) return;
    if (e.kind === "member_joined") {
      this.tile(Number(e.data["participant_id"]));
    } else if (e.kind === "member_left") {
      showTrust(this.client, Number(e.data["participant_id"]), null, null);
      this.removeTile(Number(e.data["participant_id"]));
    } else if (e.kind === "unverified" || e.kind === "accepted" || e.kind === "refused") {
      this.showTrust(Number(e.data["participant_id"]));
    } else if (e.kind === "pin_mismatch") {
      const text = String(e.data["message"] ?? "the far end's key is not pinned");
      alarm(text);
      void this.end(`ALARM: ${text}`);
    } else if (e.kind === "member_media") {
      const pid = Number(e.data["participant_id"]);
      const tile = this.tiles.get(pid);
      const media = this.client.media.get(pid);
      if (tile !== undefined && media !== undefined) {
        tile.setMedia(media);
        tile.render(state.activeSpeaker === tile.summary.name);
      }
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

  private tile(pid: number): Tile | null {
    if (pid === this.client.participantId) return null;
    const existing = this.tiles.get(pid);
    if (existing !== undefined) return existing;
    const name = this.client.names.get(pid) ?? `participant ${pid}`;
    const tile = new Tile(pid, name, this.client.roles.get(pid) ?? "delegate",
      this.client.media.get(pid) ?? { audio: true, video: true, screen: false });
    this.tiles.set(pid, tile);
    return tile;
  }

  /** The participant's trust mark: UNVERIFIED with Accept/Refuse, or none. */
  private showTrust(pid: number): void {
    if (this.ended || pid === this.client.participantId) return;
    const tile = this.tile(pid);
    showTrust(this.client, pid, this.client.unverified.get(pid) ?? null, tile?.element ?? null);
  }

  private removeTile(pid: number): void {
    const tile = this.tiles.get(pid);
    if (tile === undefined) return;
    this.tiles.delete(pid);
    this.failures.delete(pid);
    tile.remove();
  }

  // ------------------------------------------------------------------ the call

  async start(): Promise<void> {
    state.phase = "joining";
    status(`Joining ${this.room}…`);
    await this.client.join(this.room, 10.0, this.joinRequest);
    if (this.client.pinFailure !== null) { // a hotline's far end is not the pinned key
      alarm(this.client.pinFailure.message);
      throw this.client.pinFailure;
    }
    state.participantId = this.client.participantId;
    state.role = this.client.role;
    this.selfLine = new SelfLine(this.client.party, this.client.role);
    for (const pid of this.client.names.keys()) {
      if (pid !== this.client.participantId) this.tile(pid);
    }
    for (const pid of this.client.unverified.keys()) this.showTrust(pid);
    const code = this.client.code;
    this.showCode(code === null ? null : { digits: code.digits, words: code.words });
    this.setVerified(false);
    const listenOnly = LISTEN_ONLY.has(this.client.role);
    if (listenOnly) {
      state.local = { audio: false, video: false, screen: false };
      this.renderControls(true);
    } else {
      this.wireControls();
      await this.publish();
      if (!state.local.audio || !state.local.video) this.client.setMedia(state.local);
      if (this.microphone !== null) this.selfMeter = new LevelMeter(this.microphone);
    }
    this.showSelf();
    this.mediaSince = performance.now();
    this.timer = setInterval(() => void this.poll(), STATS_INTERVAL_MS);
    if (this.ended) return;
    state.phase = "in-call";
    status(listenOnly ? `In call: ${this.room} (listening only, as ${roleLabel(this.client.role)})` : `In call: ${this.room}`);
  }

  private async publish(): Promise<void> {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.publishPc = pc;
    const stream = new MediaStream();
    // audio first, then video: slots 0 and 1; each transform attached in this same task
    // (after a media restart: the same SFrame senders in the worker). Each sender starts
    // on a placeholder (silence, a dark canvas): the real microphone and camera are
    // attached only once the worker proved it encrypts that sender's frames (proof.ts).
    this.placeholders?.stop();
    const placeholders = new Placeholders();
    this.placeholders = placeholders;
    this.proven = { audio: false, video: false };
    const audio = this.e2ee.addTransceiver(pc, placeholders.track("audio"), { direction: "sendonly", streams: [stream] });
    const video = this.e2ee.addTransceiver(pc, placeholders.track("video"), { direction: "sendonly", streams: [stream] });
    onlyMidExtension(audio);
    onlyMidExtension(video);
    this.videoSender = video.sender;
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
      this.mediaState(pc);
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
    this.proven[kind] = true;
    state.media.proofMs[kind] = Math.round(performance.now() - since);
    await sender.replaceTrack(kind === "audio" ? this.microphone : this.screen ?? this.camera);
    if (this.proven.audio && this.proven.video) this.placeholders?.stop();
  }

  /** The queue of subscribe offers and media restarts (one at a time, in order). */
  private async onOffer(item: SubscribeOffer | MediaRestarted | "restart"): Promise<void> {
    if (this.ended) return;
    if (item === "restart") {
      this.sendRestart();
    } else if (item.type === "media_restarted") {
      this.restartsPending = Math.max(0, this.restartsPending - 1);
      if (this.restartsPending === 0) {
        this.mediaSince = performance.now();
        if (!LISTEN_ONLY.has(this.client.role)) {
          this.publish().catch((error: unknown) => this.notice(`Reconnecting media: ${message(error)}`)); // tried again
        }
      }
    } else if (this.restartsPending === 0) {
      await this.answer(item);
    } // else: an offer for a connection the restart dropped
  }

  /** A connection's state changed: connected (after a restart: say so), or dead. */
  private mediaState(pc: RTCPeerConnection): void {
    const s = pc.connectionState;
    const ours = pc === (this.publishPc ?? this.subscribePc);
    if (s === "connected" && ours && !this.mediaConnected) {
      this.mediaConnected = true;
      if (this.restartAt !== null) {
        const ms = Math.round(performance.now() - this.restartAt);
        state.media.lastRestartMs = ms;
        state.media.restarting = false;
        this.restartAt = null;
        this.reconnected = `Media reconnected after ${(ms / 1000).toFixed(1)} s.`;
        this.notice(this.pathNotice === null ? this.reconnected : `${this.reconnected} ${this.pathNotice}`);
        if (this.pathNotice !== null) this.reconnected = null;
        this.pathNotice = null;
      }
    }
    this.disconnectedSince = s === "disconnected" ? (this.disconnectedSince ?? performance.now()) : null;
    if (s === "failed") this.restartMedia("media connection failed");
  }

  /** Called by the stats poll: replace connections that stay disconnected or never connect. */
  private watchPath(): void {
    if (this.ended || this.restartQueued) return;
    if (this.restartsPending === 0 && this.publishPc === null && this.subscribePc === null) return; // listening, nobody publishes
    const now = performance.now();
    if (this.restartsPending > 0 || !this.mediaConnected) {
      if (now - this.mediaSince > SETUP_TIMEOUT_MS) this.restartMedia("media connections did not come up");
      return;
    }
    if (this.disconnectedSince !== null && now - this.disconnectedSince > DISCONNECTED_MS) {
      this.restartMedia("media connection disconnected");
      return;
    }
    const silent = this.publishPc === null ? SILENT_LISTENING_MS : SILENT_MS;
    if (this.rxAt !== null && now - this.rxAt > silent) {
      this.restartMedia(`nothing received for ${((now - this.rxAt) / 1000).toFixed(1)} s`);
    }
  }

  /** Replace the media connections (publish and subscribe) with new ones: same seat, same keys. */
  private restartMedia(reason: string): void {
    if (this.ended || this.restartQueued) return;
    this.restartQueued = true;
    this.mediaSince = performance.now();
    this.mediaConnected = false;
    this.disconnectedSince = null;
    this.rxAt = null;
    this.rxBytes = -1;
    this.restartAt ??= performance.now();
    this.restartReason = reason;
    this.reconnected = null;
    this.pathNotice = null;
    state.media.restarts += 1;
    state.media.restarting = true;
    this.notice("Network changed: reconnecting media…");
    $("protection").textContent = "encrypted · reconnecting media…";
    this.offers = this.offers.then(() => this.onOffer("restart")).catch((error: unknown) => {
      void this.end(`media restart failed: ${message(error)}`);
    });
  }

  private sendRestart(): void {
    this.restartQueued = false;
    for (const pc of [this.publishPc, this.subscribePc]) {
      if (pc === null) continue;
      this.e2ee.release(pc);
      pc.close();
    }
    this.publishPc = null;
    this.subscribePc = null;
    this.videoSender = null;
    state.media.publish = state.media.subscribe = "new";
    for (const tile of this.tiles.values()) {
      tile.videoReceiver = null; // their connection is closed; new ones come with the new offer
      tile.audioReceiver = null;
    }
    this.lastReceived = null;
    this.restartsPending += 1;
    this.mediaSince = performance.now();
    this.client.requestMediaRestart(this.restartReason);
  }

  private async answer(offer: SubscribeOffer): Promise<void> {
    if (this.ended) return;
    let pc = this.subscribePc;
    if (pc === null) {
      const sub = new RTCPeerConnection({ iceServers: [] });
      pc = sub;
      this.subscribePc = sub;
      // its 'track' listener comes first: the transform is attached before anything else,
      // bound to the participant the offer attributes the stream to
      this.e2ee.watch(sub, (event) => this.attribute(event));
      sub.addEventListener("track", (event) => this.onTrack(event));
      sub.addEventListener("connectionstatechange", () => {
        if (sub !== this.subscribePc) return; // dropped by a media restart
        state.media.subscribe = sub.connectionState;
        this.mediaState(sub);
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
    this.tile(pid)?.addTrack(event.receiver, event.track.kind === "audio" ? "audio" : "video");
  }

  // ------------------------------------------------------------------ controls

  private wireControls(): void {
    const signal = this.abort.signal;
    button("mute-button").addEventListener("click", () => this.toggleMute(), { signal });
    button("camera-button").addEventListener("click", () => void this.toggleCamera(), { signal });
    button("screen-button").addEventListener("click", () => void this.toggleScreen(), { signal });
    this.renderControls(false);
  }

  private renderControls(listenOnly: boolean): void {
    const l = state.local;
    setToggle("mute-button", !l.audio, l.audio ? "Mute" : "Unmute");
    setToggle("camera-button", !l.video, l.video ? "Camera off" : "Camera on");
    setToggle("screen-button", l.screen, l.screen ? "Stop sharing" : "Share screen");
    for (const id of ["mute-button", "camera-button", "screen-button"]) button(id).hidden = listenOnly; // nothing to send
    button("mute-button").disabled = listenOnly || this.microphone === null;
    button("screen-button").disabled = listenOnly || navigator.mediaDevices?.getDisplayMedia === undefined;
    this.selfLine?.render(state.activeSpeaker === state.party);
  }

  private changed(): void {
    this.renderControls(false);
    this.showSelf();
    if (!this.ended) this.client.setMedia(state.local);
  }

  toggleMute(): void {
    if (this.microphone === null || this.ended) return;
    this.microphone.enabled = !this.microphone.enabled;
    state.local.audio = this.microphone.enabled;
    this.changed();
  }

  async toggleCamera(): Promise<void> {
    if (this.ended || this.videoSender === null) return;
    const b = button("camera-button");
    b.disabled = true;
    try {
      if (this.camera !== null) {
        this.camera.stop();
        this.camera = null;
        if (this.screen === null && this.proven.video) await this.videoSender.replaceTrack(null);
        state.local.video = false;
      } else {
        const media = await navigator.mediaDevices.getUserMedia({ video: this.cameraConstraints });
        const track = media.getVideoTracks()[0];
        if (track === undefined) throw new Error("no camera track");
        if (this.ended) {
          track.stop();
          return;
        }
        this.camera = track;
        if (this.screen === null && this.proven.video) await this.videoSender.replaceTrack(track); // else at the proof
        state.local.video = true;
      }
      this.changed();
    } catch (error) {
      this.notice(`Camera: ${message(error)}`);
    } finally {
      b.disabled = false;
    }
  }

  async toggleScreen(): Promise<void> {
    if (this.ended || this.videoSender === null) return;
    if (this.screen !== null) {
      await this.stopScreen();
      return;
    }
    try {
      const media = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
      const track = media.getVideoTracks()[0];
      if (track === undefined) throw new Error("nothing was shared");
      if (this.ended) {
        track.stop();
        return;
      }
      track.contentHint = "detail";
      this.screen = track;
      track.addEventListener("ended", () => void this.stopScreen(), { signal: this.abort.signal }); // the browser's own "Stop sharing"
      if (this.proven.video) await this.videoSender.replaceTrack(track); // else at the proof
      state.local.screen = true;
      this.changed();
    } catch (error) {
      // the user closing the picker is not an error worth more than a line
      this.notice(error instanceof DOMException && error.name === "NotAllowedError" ? "Screen sharing was cancelled." : `Screen sharing: ${message(error)}`);
    }
  }

  private async stopScreen(): Promise<void> {
    const screen = this.screen;
    if (screen === null) return;
    this.screen = null;
    screen.stop();
    if (!this.ended && this.videoSender !== null && this.proven.video) await this.videoSender.replaceTrack(this.camera);
    state.local.screen = false;
    this.changed();
  }

  private showSelf(): void {
    const track = this.screen ?? this.camera;
    const video = $("self-video") as HTMLVideoElement;
    video.srcObject = track === null ? null : new MediaStream([track]);
    video.classList.toggle("screen", this.screen !== null);
    $("self-off").hidden = track !== null;
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
    const tiles = [...this.tiles.values()];
    if (tiles.some((t) => t.waiting("video") || t.waiting("audio")) && !(await this.e2ee.check())) return;
    for (const tile of tiles) {
      if (tile.videoReceiver !== null && this.e2ee.passedCheck(tile.videoReceiver)) tile.admit("video");
      if (tile.audioReceiver !== null && this.e2ee.passedCheck(tile.audioReceiver)) tile.admit("audio");
    }
    const byTransform = new Map((counters?.transforms ?? []).map((t) => [t.id, t]));
    const levels = new Map<string, number>();
    const problems: string[] = [];
    for (const [pid, tile] of this.tiles) {
      const s = tile.summary;
      if (tile.videoReceiver !== null) {
        const report = await tile.videoReceiver.getStats();
        s.framesDecoded = statSum(report, "inbound-rtp", "framesDecoded");
        s.framesReceived = statSum(report, "inbound-rtp", "framesReceived");
        s.frameWidth = statMax(report, "inbound-rtp", "frameWidth");
      }
      if (tile.audioReceiver !== null) {
        const report = await tile.audioReceiver.getStats();
        s.audioPacketsReceived = statSum(report, "inbound-rtp", "packetsReceived");
        s.audioSamplesReceived = statSum(report, "inbound-rtp", "totalSamplesReceived");
        s.audioEnergy = statSum(report, "inbound-rtp", "totalAudioEnergy");
        s.audioLevel = statMax(report, "inbound-rtp", "audioLevel");
        levels.set(s.name, s.audio ? s.audioLevel : 0);
      }
      // what the worker decrypted (out) and failed to decrypt, for this participant
      let out = 0;
      let failed = 0;
      let wrongStream = 0;
      for (const receiver of [tile.videoReceiver, tile.audioReceiver]) {
        const id = receiver === null ? undefined : this.e2ee.transformOf(receiver);
        const c = id === undefined ? undefined : byTransform.get(id);
        if (c === undefined) continue;
        out += c.framesOut;
        for (const [reason, n] of Object.entries(c.failures)) {
          if (WRONG_STREAM.has(reason)) wrongStream += n;
          else if (!BENIGN.has(reason)) failed += n;
        }
      }
      const before = this.failures.get(pid) ?? { out: 0, failed: 0 };
      this.failures.set(pid, { out, failed });
      s.decryptFailures = failed;
      s.wrongStream = wrongStream;
      if (wrongStream > 0) problems.push(`${wrongStream} frames of someone else arrived as ${s.name}'s and were dropped (never shown): the server swapped or relabelled streams.`);
      if (this.client.unverified.has(pid)) s.keys = "waiting"; // not verified here: its keys are refused, on purpose
      else if (failed > before.failed && out === before.out) s.keys = "failing";
      else if (out > before.out) s.keys = "ok"; // the worker decrypted (never trust the decoder alone)
      if (s.keys === "failing") problems.push(`Frames from ${s.name} fail to decrypt: wrong keys, or the media was altered on the way. Nothing undecrypted is shown.`);
    }
    if (this.selfMeter !== null) levels.set(state.party, state.local.audio ? this.selfMeter.level() : 0);
    state.activeSpeaker = this.speaker.update(levels, performance.now());
    for (const tile of this.tiles.values()) tile.render(state.activeSpeaker === tile.summary.name);
    this.selfLine?.render(state.activeSpeaker === state.party);
    $("speaking").textContent = state.activeSpeaker === null ? "" : `Speaking: ${state.activeSpeaker === state.party ? "you" : state.activeSpeaker}`;
    this.showProblems(problems);
    await this.pollPath();
  }

  private async pollPath(): Promise<void> {
    // the path of what we send (what we receive, for a listen-only role); quality from
    // what we receive
    const pathPc = this.publishPc ?? this.subscribePc;
    if (pathPc === null || this.ended) return;
    const pathReport = await pathPc.getStats();
    if (pathPc !== (this.publishPc ?? this.subscribePc) || this.ended) return; // restarted meanwhile
    const pair = selectedPath(pathReport)?.pair;
    const rx = typeof pair?.["bytesReceived"] === "number" ? pair["bytesReceived"] : null;
    if (rx !== null && this.mediaConnected && rx !== this.rxBytes) {
      this.rxBytes = rx;
      this.rxAt = performance.now();
    }
    const path = describePath(pathReport, state.path);
    if (path !== null && state.path !== null && path.changes > state.path.changes) {
      const text = `The network path changed: now ${path.remoteAddress}.`;
      if (state.media.restarting) {
        this.pathNotice = text; // shown with "Media reconnected" in a moment
      } else {
        this.notice(this.reconnected === null ? text : `${this.reconnected} ${text}`);
        this.reconnected = null;
      }
    }
    state.path = path;
    $("protection").textContent = `encrypted · ${path?.label ?? "via SFU"}`;
    $("protection").title = path === null ? "" : `${path.localType} candidate, ${path.protocol} to ${path.remoteAddress}`;
    const report = this.subscribePc === null ? null : await this.subscribePc.getStats();
    if (report === null || this.ended) return;
    const now = received(report);
    state.quality = grade(report, this.lastReceived, now);
    this.lastReceived = now;
    $("quality").textContent = qualityText(state.quality);
    $("quality").dataset["grade"] = state.quality.grade;
  }

  private showProblems(problems: string[]): void {
    if (problems.join("\n") === state.problems.join("\n")) return;
    state.problems = problems;
    const list = $("problems");
    list.replaceChildren(...problems.map((p) => Object.assign(document.createElement("li"), { textContent: p })));
    list.hidden = problems.length === 0;
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
    for (const t of [this.microphone, this.camera, this.screen]) t?.stop();
    this.placeholders?.stop();
    this.selfMeter?.close();
    this.publishPc?.close();
    this.subscribePc?.close();
    this.e2ee.close();
    for (const pid of [...this.tiles.keys()]) this.removeTile(pid);
    this.selfLine?.remove();
    clearRoster();
    this.showProblems([]);
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
    this.onEnded(error, connectionLost);
  }
}
