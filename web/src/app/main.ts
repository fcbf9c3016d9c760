/**
 * The browser call page (served by `hotline serve` at "/"; bundle dist/app/main.js).
 *
 * 1. Identity: a non-extractable Ed25519 key in IndexedDB (keystore.ts), made on the first
 *    visit. If the server does not know it, the page asks for a one-time enrollment code
 *    (also taken from the URL fragment `#code=...`, which never reaches the server).
 * 2. Rooms: the `welcome` of an authenticated connection lists the party's rooms.
 * 3. A call: camera and microphone (getUserMedia), signaling and the key schedule
 *    (SignalingClient), one RTCPeerConnection that publishes Opus + VP8 through the E2EE
 *    transforms (MediaE2EE.addTransceiver: attached in the same task), and one that
 *    answers the SFU's subscribe offers (MediaE2EE.watch: receivers get their transform
 *    in 'track'). Every batch of key actions is mirrored into the transform worker:
 *    sending keys per slot, receiving keys installed and retired. Each remote participant
 *    gets a tile that says "waiting for keys" until its video decodes (which happens only
 *    after the worker decrypted it). The group code is shown in digits and words.
 *    A fatal error of MediaE2EE (a bypass, a dead worker) or a lost connection ends the
 *    call and shows the error.
 *
 * For tests and diagnostics the page keeps a summary on `window.hotlineApp` (no keys).
 */

import type { KeyScheduleAction } from "../crypto/keyschedule.js";
import { type LoadedIdentity, loadOrCreateIdentity } from "../crypto/keystore.js";
import { parseKid } from "../crypto/kid.js";
import type { CounterReport } from "../media/messages.js";
import { MediaE2EE } from "../media/pipeline.js";
import type { StreamInfo, SubscribeOffer } from "../protocol/messages.js";
import { type ClientEvent, ServerError, SignalingClient } from "../protocol/signaling.js";

const WORKER_URL = "/app/transform-worker.js";
const STATS_INTERVAL_MS = 500;
const GATHER_TIMEOUT_MS = 5000;
const MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid";

// ------------------------------------------------------------------ page state

interface RemoteSummary {
  participantId: number;
  name: string;
  waitingForKeys: boolean;
  framesDecoded: number;
  framesReceived: number;
  audioPacketsReceived: number;
  audioSamplesReceived: number;
}

interface AppState {
  phase: "loading" | "enroll" | "rooms" | "joining" | "in-call" | "ended";
  error: string | null;
  fingerprint: string;
  party: string;
  rooms: readonly string[];
  room: string;
  participantId: number | null;
  code: { digits: string; words: string } | null;
  /** Frames the worker encrypted and passed on, by kind. */
  sent: { video: number; audio: number };
  /** Per remote participant, by party name. */
  remotes: Record<string, RemoteSummary>;
  worker: CounterReport | null;
  calls: number;
  /** connectionState of the publish and subscribe connections; offers answered. */
  media: { publish: string; subscribe: string; offers: number };
}

declare global {
  interface Window {
    hotlineApp: AppState;
    /** The worker's counters now (null outside a call): fresher than `hotlineApp.sent`. */
    hotlineAppCounters: () => Promise<CounterReport | null>;
  }
}

const state: AppState = {
  phase: "loading", error: null, fingerprint: "", party: "", rooms: [], room: "", participantId: null, code: null,
  sent: { video: 0, audio: 0 }, remotes: {}, worker: null, calls: 0,
  media: { publish: "new", subscribe: "new", offers: 0 },
};
window.hotlineApp = state;
window.hotlineAppCounters = async () => (call === null || call.ended ? null : await call.e2ee.counters());

function $(id: string): HTMLElement {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`page element #${id} is missing`);
  return el;
}

function status(text: string): void {
  $("status").textContent = text;
}

function showError(text: string | null): void {
  state.error = text;
  const el = $("error");
  el.textContent = text ?? "";
  el.hidden = text === null;
}

function show(view: "enroll" | "rooms" | "call" | null): void {
  for (const v of ["enroll", "rooms", "call"]) $(`${v}-view`).hidden = v !== view;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------ identity, rooms

let identity: LoadedIdentity | null = null;
let lobby: SignalingClient | null = null; // an authenticated connection, not in a call
let call: Call | null = null;

async function authenticated(): Promise<SignalingClient> {
  if (identity === null) throw new Error("no identity");
  const client = new SignalingClient(location.origin, identity.identity);
  await client.connect();
  try {
    await client.authenticate();
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

async function showRooms(): Promise<void> {
  status("Connecting…");
  let client: SignalingClient;
  try {
    client = await authenticated();
  } catch (error) {
    if (error instanceof ServerError && error.code === "unauthorized") {
      showEnroll();
      return;
    }
    throw error;
  }
  lobby = client;
  client.onEvent.add((e) => {
    if (e.kind === "closed" && lobby === client && call === null) {
      showError(`connection to the server lost: ${String(e.data["reason"] ?? "")}`);
      status("Disconnected. Reload the page to reconnect.");
    }
  });
  state.party = client.party;
  state.rooms = client.rooms;
  state.phase = "rooms";
  $("who").textContent = `Signed in as ${client.party}`;
  const list = $("rooms");
  list.replaceChildren();
  for (const room of client.rooms) {
    const li = document.createElement("li");
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = `Join ${room}`;
    button.dataset["room"] = room;
    button.addEventListener("click", () => void joinRoom(room));
    li.append(button);
    list.append(li);
  }
  $("no-rooms").hidden = client.rooms.length > 0;
  show("rooms");
  status(client.rooms.length ? "Choose a room to join." : "No rooms.");
}

function showEnroll(): void {
  state.phase = "enroll";
  show("enroll");
  status("This browser is not enrolled yet.");
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("code");
  if (fromUrl) ($("code") as HTMLInputElement).value = fromUrl;
}

async function enroll(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  if (identity === null) return;
  const code = ($("code") as HTMLInputElement).value.trim();
  const label = ($("label") as HTMLInputElement).value.trim();
  const button = $("enroll-button") as HTMLButtonElement;
  button.disabled = true;
  showError(null);
  status("Enrolling…");
  const client = new SignalingClient(location.origin, identity.identity);
  try {
    await client.connect();
    await client.enroll(code, label);
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    client.close();
    await showRooms();
  } catch (error) {
    client.close();
    showError(`enrollment failed: ${message(error)}`);
    status("This browser is not enrolled yet.");
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------- the call

interface Tile {
  readonly participantId: number;
  readonly element: HTMLElement;
  readonly video: HTMLVideoElement;
  readonly waiting: HTMLElement;
  readonly stream: MediaStream;
  videoReceiver: RTCRtpReceiver | null;
  audioReceiver: RTCRtpReceiver | null;
  summary: RemoteSummary;
}

function statSum(report: RTCStatsReport, type: string, field: string): number {
  let n = 0;
  report.forEach((s: Record<string, unknown>) => {
    if (s["type"] === type && typeof s[field] === "number") n += s[field] as number;
  });
  return n;
}

interface HeaderExtensionCapability {
  readonly uri: string;
  readonly direction: string;
}

type WithHeaderExtensionControl = RTCRtpTransceiver & {
  getHeaderExtensionsToNegotiate?: () => HeaderExtensionCapability[];
  setHeaderExtensionsToNegotiate?: (extensions: HeaderExtensionCapability[]) => void;
};

/**
 * Offer no RTP header extension but the MID. The SFU forwards header extensions as they
 * came, under the publisher's ids (only the MID is renamed), so an extension negotiated
 * under another id by a subscriber is misread there (aiortc's receiver dies on Chromium's
 * abs-send-time under its audio-level id). Clear-text audio levels also tell who speaks
 * when, which end-to-end encryption should not leak. (Chromium's RTP header extension
 * control API; without it, the browser's defaults are offered.)
 */
function onlyMidExtension(transceiver: RTCRtpTransceiver): void {
  const t = transceiver as WithHeaderExtensionControl;
  if (t.getHeaderExtensionsToNegotiate === undefined || t.setHeaderExtensionsToNegotiate === undefined) return;
  t.setHeaderExtensionsToNegotiate(t.getHeaderExtensionsToNegotiate().map((e) => ({
    ...e, direction: e.uri === MID_URI ? e.direction : "stopped",
  })));
}

function gathered(pc: RTCPeerConnection): Promise<void> {
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

class Call {
  readonly e2ee: MediaE2EE;
  private publishPc: RTCPeerConnection | null = null;
  private subscribePc: RTCPeerConnection | null = null;
  private readonly streams = new Map<string, StreamInfo>(); // by mid
  private readonly tiles = new Map<number, Tile>();
  private offers: Promise<void> = Promise.resolve();
  private timer: ReturnType<typeof setInterval> | null = null;
  ended = false;

  constructor(readonly client: SignalingClient, readonly room: string, readonly media: MediaStream) {
    this.e2ee = new MediaE2EE({ workerUrl: WORKER_URL, onFatal: (e) => void this.end(`E2EE failure, call ended: ${e.message}`) });
    client.onKeyActions = (actions) => this.mirror(actions);
    client.onSubscribeOffer = (offer) => {
      this.offers = this.offers.then(() => this.answer(offer)).catch((error: unknown) => {
        void this.end(`subscribe offer failed: ${message(error)}`);
      });
    };
    client.onEvent.add((e) => this.onEvent(e));
  }

  /** Keys into the worker, in the order the key schedule produced them (postMessage keeps it). */
  private mirror(actions: readonly KeyScheduleAction[]): void {
    if (this.ended) return;
    const failed = (error: unknown): void => {
      if (!this.ended) void this.end(`E2EE worker refused a key: ${message(error)}`);
    };
    for (const action of actions) {
      if (action.type === "install_encryption_key") {
        for (const kid of action.kids) this.e2ee.setSendingKey(parseKid(kid).slot, kid, action.baseKey).catch(failed);
      } else if (action.type === "install_decryption_key") {
        for (const kid of action.kids) this.e2ee.installKey(kid, action.baseKey).catch(failed);
      } else if (action.type === "retire_keys" && !action.sending) {
        for (const kid of action.kids) this.e2ee.retireKey(kid).catch(failed);
      } else if (action.type === "group_code_changed") {
        this.showCode(action.code.digits, action.code.words);
      }
    }
  }

  private showCode(digits: string, words: string): void {
    state.code = { digits, words };
    $("code-digits").textContent = digits;
    $("code-words").textContent = words;
  }

  private onEvent(e: ClientEvent): void {
    if (this.ended) return;
    if (e.kind === "member_joined") {
      this.tile(Number(e.data["participant_id"]));
    } else if (e.kind === "member_left") {
      this.removeTile(Number(e.data["participant_id"]));
    } else if (e.kind === "closed") {
      void this.end(`connection to the server lost: ${String(e.data["reason"] ?? "")}`);
    }
  }

  async start(): Promise<void> {
    state.phase = "joining";
    status(`Joining ${this.room}…`);
    await this.client.join(this.room);
    state.participantId = this.client.participantId;
    for (const pid of this.client.names.keys()) {
      if (pid !== this.client.participantId) this.tile(pid);
    }
    const code = this.client.code;
    if (code !== null) this.showCode(code.digits, code.words);
    await this.publish();
    this.timer = setInterval(() => void this.poll(), STATS_INTERVAL_MS);
    state.phase = "in-call";
    status(`In call: ${this.room}`);
  }

  private async publish(): Promise<void> {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.publishPc = pc;
    // audio first, then video: slots 0 and 1; each transform attached in this same task
    for (const track of [...this.media.getAudioTracks(), ...this.media.getVideoTracks()]) {
      onlyMidExtension(this.e2ee.addTransceiver(pc, track, { direction: "sendonly", streams: [this.media] }));
    }
    pc.addEventListener("connectionstatechange", () => {
      state.media.publish = pc.connectionState;
      if (pc.connectionState === "failed") void this.end("the media connection to the server failed");
    });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc);
    const answer = await this.client.publish(pc.localDescription!.sdp);
    if (this.ended) return;
    await pc.setRemoteDescription({ type: "answer", sdp: answer });
  }

  private async answer(offer: SubscribeOffer): Promise<void> {
    if (this.ended) return;
    let pc = this.subscribePc;
    if (pc === null) {
      pc = new RTCPeerConnection({ iceServers: [] });
      this.subscribePc = pc;
      this.e2ee.watch(pc); // its 'track' listener comes first: the transform is attached before anything else
      pc.addEventListener("track", (event) => this.onTrack(event));
      pc.addEventListener("connectionstatechange", () => {
        state.media.subscribe = pc!.connectionState;
        if (pc!.connectionState === "failed") void this.end("the media connection from the server failed");
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

  private onTrack(event: RTCTrackEvent): void {
    const mid = event.transceiver.mid;
    const info = mid === null ? undefined : this.streams.get(mid);
    if (info === undefined) return; // not announced: it is guarded and never shown
    const tile = this.tile(info.participant_id);
    if (tile === null) return;
    tile.stream.addTrack(event.track);
    if (info.kind === "video") tile.videoReceiver = event.receiver;
    else tile.audioReceiver = event.receiver;
    if (tile.video.srcObject !== tile.stream) tile.video.srcObject = tile.stream;
    void tile.video.play().catch(() => undefined);
  }

  private tile(pid: number): Tile | null {
    if (pid === this.client.participantId) return null;
    const existing = this.tiles.get(pid);
    if (existing !== undefined) return existing;
    const name = this.client.names.get(pid) ?? `participant ${pid}`;
    const element = document.createElement("figure");
    element.className = "tile";
    element.dataset["participant"] = String(pid);
    element.dataset["party"] = name;
    const video = document.createElement("video");
    video.autoplay = true;
    video.playsInline = true;
    video.setAttribute("aria-label", `Video of ${name}`);
    const caption = document.createElement("figcaption");
    caption.className = "name";
    caption.textContent = name;
    const waiting = document.createElement("p");
    waiting.className = "waiting";
    waiting.setAttribute("role", "status");
    waiting.textContent = "waiting for keys";
    element.append(video, waiting, caption);
    $("tiles").append(element);
    const summary: RemoteSummary = {
      participantId: pid, name, waitingForKeys: true, framesDecoded: 0, framesReceived: 0,
      audioPacketsReceived: 0, audioSamplesReceived: 0,
    };
    const tile: Tile = {
      participantId: pid, element, video, waiting, stream: new MediaStream(), videoReceiver: null, audioReceiver: null, summary,
    };
    this.tiles.set(pid, tile);
    state.remotes[name] = summary;
    return tile;
  }

  private removeTile(pid: number): void {
    const tile = this.tiles.get(pid);
    if (tile === undefined) return;
    this.tiles.delete(pid);
    tile.video.srcObject = null;
    tile.element.remove();
    if (state.remotes[tile.summary.name] === tile.summary) delete state.remotes[tile.summary.name];
  }

  private async poll(): Promise<void> {
    if (this.ended) return;
    for (const tile of this.tiles.values()) {
      const s = tile.summary;
      if (tile.videoReceiver !== null) {
        const report = await tile.videoReceiver.getStats();
        s.framesDecoded = statSum(report, "inbound-rtp", "framesDecoded");
        s.framesReceived = statSum(report, "inbound-rtp", "framesReceived");
      }
      if (tile.audioReceiver !== null) {
        const report = await tile.audioReceiver.getStats();
        s.audioPacketsReceived = statSum(report, "inbound-rtp", "packetsReceived");
        s.audioSamplesReceived = statSum(report, "inbound-rtp", "totalSamplesReceived");
      }
      // Chromium decodes only what the worker let out, and it lets out only what it decrypted.
      s.waitingForKeys = s.framesDecoded === 0;
      tile.waiting.hidden = !s.waitingForKeys;
    }
    try {
      const report = await this.e2ee.counters();
      state.worker = report;
      state.sent = { video: report.totals["send/video"]?.framesOut ?? 0, audio: report.totals["send/audio"]?.framesOut ?? 0 };
    } catch {
      // the periodic check reports a silent worker as fatal
    }
  }

  /** End the call: everything closed; `error` is shown. Then back to the room list. */
  async end(error: string | null): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    if (this.timer !== null) clearInterval(this.timer);
    state.phase = "ended";
    if (error !== null) showError(error);
    status(error === null ? "Leaving…" : "Call ended.");
    for (const t of this.media.getTracks()) t.stop();
    this.publishPc?.close();
    this.subscribePc?.close();
    this.e2ee.close();
    for (const pid of [...this.tiles.keys()]) this.removeTile(pid);
    ($("self-video") as HTMLVideoElement).srcObject = null;
    if (this.client.participantId !== null) {
      await Promise.race([this.client.leave().catch(() => undefined), sleep(2000)]);
    }
    this.client.close();
    state.code = null;
    state.participantId = null;
    $("code-digits").textContent = "";
    $("code-words").textContent = "";
    if (call === this) call = null;
    try {
      await showRooms();
      if (error !== null) status("Call ended with an error; you can join again.");
    } catch (e) {
      show(null);
      showError(`${error ?? ""} ${message(e)}`.trim());
      status("Disconnected. Reload the page to reconnect.");
    }
  }
}

/** The camera size asked for: 640x480, or `?video=WxH` (160x120 up to 1280x720). */
function videoSize(): [number, number] {
  const m = /^(\d{3,4})x(\d{3,4})$/.exec(new URLSearchParams(location.search).get("video") ?? "");
  const w = Number(m?.[1] ?? 640);
  const h = Number(m?.[2] ?? 480);
  return w >= 160 && w <= 1280 && h >= 120 && h <= 720 ? [w, h] : [640, 480];
}

async function joinRoom(room: string): Promise<void> {
  if (call !== null || lobby === null) return;
  const client = lobby;
  lobby = null;
  showError(null);
  state.room = room;
  state.calls += 1;
  state.remotes = {};
  state.media = { publish: "new", subscribe: "new", offers: 0 };
  status("Starting camera and microphone…");
  let media: MediaStream;
  try {
    const [width, height] = videoSize();
    media = await navigator.mediaDevices.getUserMedia({
      audio: true, video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30 } },
    });
  } catch (error) {
    lobby = client;
    showError(`no camera or microphone: ${message(error)}`);
    status("Choose a room to join.");
    return;
  }
  ($("self-video") as HTMLVideoElement).srcObject = media;
  $("call-title").textContent = `Call: ${room}`;
  show("call");
  const c = new Call(client, room, media);
  call = c;
  try {
    await c.start();
  } catch (error) {
    await c.end(`could not join ${room}: ${message(error)}`);
  }
}

// ------------------------------------------------------------------- start

async function main(): Promise<void> {
  ($("enroll-form") as HTMLFormElement).addEventListener("submit", (e) => void enroll(e));
  $("leave-button").addEventListener("click", () => void call?.end(null));
  window.addEventListener("pagehide", () => {
    call?.client.close();
    lobby?.close();
  });
  if (!("RTCRtpScriptTransform" in window)) {
    throw new Error("this browser has no RTCRtpScriptTransform: end-to-end encrypted calls are not possible in it");
  }
  status("Loading the device key…");
  identity = await loadOrCreateIdentity();
  state.fingerprint = identity.fingerprint;
  $("fingerprint").textContent = identity.fingerprint;
  if (identity.created) showEnroll();
  else await showRooms();
}

main().catch((error: unknown) => {
  show(null);
  showError(message(error));
  status("The page could not start.");
});
