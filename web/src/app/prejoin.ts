/**
 * The pre-join check: camera preview, a live microphone level, the choice of camera and
 * microphone, and whether to join muted or with the camera off.
 *
 * "Join now" stays disabled until there is a microphone (REQUIREMENTS L5: no microphone,
 * no "ready"); a missing camera is allowed (join without video). Every failure of
 * getUserMedia is turned into a sentence that says what to do.
 */

import { $, button, show, state, status } from "./view.js";

export interface PrejoinChoice {
  readonly media: MediaStream;
  readonly audio: boolean;
  readonly video: boolean;
  readonly constraints: { audio: MediaTrackConstraints; video: MediaTrackConstraints };
}

const LEVEL_INTERVAL_MS = 100;

/** The camera size asked for: 640x480, or `?video=WxH` (160x120 up to 1280x720). */
export function videoSize(): [number, number] {
  const m = /^(\d{3,4})x(\d{3,4})$/.exec(new URLSearchParams(location.search).get("video") ?? "");
  const w = Number(m?.[1] ?? 640);
  const h = Number(m?.[2] ?? 480);
  return w >= 160 && w <= 1280 && h >= 120 && h <= 720 ? [w, h] : [640, 480];
}

/** What a getUserMedia failure means for the user, and what to do about it. */
export function mediaProblem(error: unknown): string {
  const name = error instanceof DOMException ? error.name : "";
  switch (name) {
    case "NotAllowedError":
    case "SecurityError":
      return "Camera and microphone access was refused. Allow them for this site in the browser's site settings, then press Try again.";
    case "NotFoundError":
      return "No microphone was found. Connect one, then press Try again.";
    case "NotReadableError":
    case "AbortError":
      return "The camera or microphone is in use by another program or could not be started. Close that program, then press Try again.";
    default:
      return `The camera and microphone could not be started: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/** Measures the loudness (RMS, 0..1) of an audio track. */
export class LevelMeter {
  private readonly context: AudioContext;
  private readonly analyser: AnalyserNode;
  private readonly source: MediaStreamAudioSourceNode;
  private readonly data: Float32Array<ArrayBuffer>;

  constructor(track: MediaStreamTrack) {
    this.context = new AudioContext();
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.analyser = this.context.createAnalyser();
    this.analyser.fftSize = 1024;
    this.data = new Float32Array(this.analyser.fftSize);
    this.source.connect(this.analyser);
    void this.context.resume().catch(() => undefined);
  }

  level(): number {
    this.analyser.getFloatTimeDomainData(this.data);
    let sum = 0;
    for (const x of this.data) sum += x * x;
    return Math.sqrt(sum / this.data.length);
  }

  close(): void {
    this.source.disconnect();
    void this.context.close().catch(() => undefined);
  }
}

export class Prejoin {
  private media: MediaStream | null = null;
  private meter: LevelMeter | null = null;
  private timer: ReturnType<typeof setInterval> | null = null;
  private settle: ((choice: PrejoinChoice | null) => void) | null = null;
  private readonly abort = new AbortController();
  private generation = 0; // of start(): a newer one wins

  /** Show the check for `room`; resolves with the media to join with, or null (cancel). */
  static run(room: string): Promise<PrejoinChoice | null> {
    return new Prejoin().open(room);
  }

  /** The same devices and choices again, without the check (rejoining after the server
   * came back); null if the devices cannot be opened (then the check is shown). */
  static async again(previous: Omit<PrejoinChoice, "media">): Promise<PrejoinChoice | null> {
    try {
      const c = previous.constraints;
      const media = await navigator.mediaDevices.getUserMedia({ audio: c.audio, video: previous.video ? c.video : false });
      if (media.getAudioTracks().length === 0) {
        for (const t of media.getTracks()) t.stop();
        return null;
      }
      return { ...previous, media };
    } catch {
      return null;
    }
  }

  private open(room: string): Promise<PrejoinChoice | null> {
    state.phase = "prejoin";
    state.prejoin = { ready: false, level: 0, maxLevel: 0, problem: null, cameras: 0, microphones: 0 };
    $("prejoin-title").textContent = `Ready to join ${room}?`;
    ($("prejoin-audio") as HTMLInputElement).checked = true;
    ($("prejoin-video") as HTMLInputElement).checked = true;
    show("prejoin");
    status("Check your camera and microphone.");
    const signal = this.abort.signal;
    button("join-now").addEventListener("click", () => this.finish(true), { signal });
    button("prejoin-cancel").addEventListener("click", () => this.finish(false), { signal });
    button("prejoin-retry").addEventListener("click", () => void this.start(), { signal });
    $("camera-select").addEventListener("change", () => void this.start(), { signal });
    $("mic-select").addEventListener("change", () => void this.start(), { signal });
    const done = new Promise<PrejoinChoice | null>((resolve) => {
      this.settle = resolve;
    });
    void this.start();
    return done;
  }

  private constraints(): PrejoinChoice["constraints"] {
    const [width, height] = videoSize();
    const cam = ($("camera-select") as HTMLSelectElement).value;
    const mic = ($("mic-select") as HTMLSelectElement).value;
    return {
      audio: mic ? { deviceId: { exact: mic } } : {},
      video: { width: { ideal: width }, height: { ideal: height }, frameRate: { ideal: 30 }, ...(cam ? { deviceId: { exact: cam } } : {}) },
    };
  }

  private problem(text: string | null): void {
    state.prejoin.problem = text;
    const el = $("prejoin-problem");
    el.textContent = text ?? "";
    el.hidden = text === null;
    $("prejoin-retry").hidden = text === null;
  }

  /** (Re)start the preview with the chosen devices. */
  private async start(): Promise<void> {
    const generation = ++this.generation;
    this.stopPreview();
    this.problem(null);
    this.setReady(false);
    if (navigator.mediaDevices?.getUserMedia === undefined) {
      this.problem("This page is not a secure context, so the browser gives it no camera or microphone. Open it over https:// (see `hotline serve --tls-cert`) or at http://127.0.0.1.");
      return;
    }
    const c = this.constraints();
    let media: MediaStream;
    try {
      media = await navigator.mediaDevices.getUserMedia({ audio: c.audio, video: c.video });
    } catch (error) {
      // no camera (or a camera that fails) is allowed: try the microphone alone
      if (error instanceof DOMException && ["NotFoundError", "NotReadableError", "OverconstrainedError"].includes(error.name)) {
        try {
          media = await navigator.mediaDevices.getUserMedia({ audio: c.audio });
        } catch (again) {
          this.problem(mediaProblem(again));
          return;
        }
      } else {
        this.problem(mediaProblem(error));
        return;
      }
    }
    if (this.settle === null || generation !== this.generation) { // cancelled or restarted meanwhile
      for (const t of media.getTracks()) t.stop();
      return;
    }
    this.media = media;
    ($("preview") as HTMLVideoElement).srcObject = media;
    await this.listDevices(media);
    if (generation !== this.generation || this.settle === null) return;
    const mic = media.getAudioTracks()[0];
    if (mic === undefined) {
      this.problem("No microphone was found. Connect one, then press Try again.");
      return;
    }
    if (media.getVideoTracks().length === 0) {
      ($("prejoin-video") as HTMLInputElement).checked = false;
      status("No camera: you will join with audio only.");
    }
    this.meter = new LevelMeter(mic);
    this.timer = setInterval(() => this.showLevel(), LEVEL_INTERVAL_MS);
    this.setReady(true);
  }

  private async listDevices(media: MediaStream): Promise<void> {
    const devices = await navigator.mediaDevices.enumerateDevices();
    const fill = (id: string, kind: MediaDeviceKind, track: MediaStreamTrack | undefined): number => {
      const select = $(id) as HTMLSelectElement;
      const current = track?.getSettings().deviceId ?? "";
      select.replaceChildren();
      const found = devices.filter((d) => d.kind === kind);
      for (const [i, d] of found.entries()) {
        const option = document.createElement("option");
        option.value = d.deviceId;
        option.textContent = d.label || `${kind === "videoinput" ? "Camera" : "Microphone"} ${i + 1}`;
        option.selected = d.deviceId === current;
        select.append(option);
      }
      select.disabled = found.length < 2;
      return found.length;
    };
    state.prejoin.cameras = fill("camera-select", "videoinput", media.getVideoTracks()[0]);
    state.prejoin.microphones = fill("mic-select", "audioinput", media.getAudioTracks()[0]);
  }

  private showLevel(): void {
    if (this.meter === null) return;
    const level = this.meter.level();
    state.prejoin.level = level;
    state.prejoin.maxLevel = Math.max(state.prejoin.maxLevel, level);
    // RMS 0..1 shown on a loudness-like scale: -60 dBFS .. 0 dBFS
    const db = 20 * Math.log10(Math.max(level, 1e-6));
    ($("mic-level") as HTMLMeterElement).value = Math.min(1, Math.max(0, (db + 60) / 60));
  }

  private setReady(ready: boolean): void {
    state.prejoin.ready = ready;
    button("join-now").disabled = !ready;
  }

  private stopPreview(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    this.meter?.close();
    this.meter = null;
    if (this.media !== null) for (const t of this.media.getTracks()) t.stop();
    this.media = null;
    ($("preview") as HTMLVideoElement).srcObject = null;
  }

  private finish(join: boolean): void {
    const settle = this.settle;
    if (settle === null || (join && (this.media === null || !state.prejoin.ready))) return;
    this.settle = null;
    this.abort.abort();
    if (this.timer !== null) clearInterval(this.timer);
    this.meter?.close();
    ($("preview") as HTMLVideoElement).srcObject = null;
    const media = this.media;
    this.media = null;
    if (!join || media === null) {
      this.stopPreview();
      if (media !== null) for (const t of media.getTracks()) t.stop();
      settle(null);
      return;
    }
    const audio = ($("prejoin-audio") as HTMLInputElement).checked;
    const video = ($("prejoin-video") as HTMLInputElement).checked && media.getVideoTracks().length > 0;
    settle({ media, audio, video, constraints: this.constraints() });
  }
}
