/**
 * What the page sends in a call: the microphone, the camera or a screen share, the
 * buttons that switch them, and the self view. Mute keeps sending (silence, encrypted);
 * camera off and screen share swap the video sender's track (replaceTrack keeps the
 * sender, so its transform stays). Each sender of a publish connection starts on a
 * placeholder (silence, a dark canvas): the real track goes on it only once the worker
 * proved it encrypts that sender's frames (proof.ts).
 */

import { Placeholders } from "../media/proof.js";
import type { PrejoinChoice } from "./prejoin.js";
import { $, button, message, setToggle, state } from "./view.js";

/** What LocalMedia needs of its call. */
export interface LocalMediaHost {
  ended(): boolean;
  /** What we send changed (after the controls and the self view were updated). */
  changed(): void;
  notice(text: string): void;
}

export class LocalMedia {
  /** The video sender of the current publish connection (null between connections). */
  videoSender: RTCRtpSender | null = null;
  /** The video sender of the direct connection, once proved (app/directpath.ts): camera
   * off and screen share swap its track too. */
  directVideo: RTCRtpSender | null = null;
  readonly microphone: MediaStreamTrack | null;
  private camera: MediaStreamTrack | null;
  private screen: MediaStreamTrack | null = null;
  private readonly cameraConstraints: MediaTrackConstraints;
  /** What each sender of the current publish connection sends until proved. */
  private placeholders: Placeholders | null = null;
  private proven = { audio: false, video: false };

  constructor(choice: PrejoinChoice | null, private readonly host: LocalMediaHost, private readonly signal: AbortSignal) {
    this.microphone = choice?.media.getAudioTracks()[0] ?? null;
    this.camera = choice?.media.getVideoTracks()[0] ?? null;
    if (this.microphone !== null) this.microphone.enabled = choice?.audio ?? false;
    if (this.camera !== null && !choice?.video) {
      this.camera.stop(); // camera off: the light goes off too
      this.camera = null;
    }
    this.cameraConstraints = choice?.constraints.video ?? {};
    state.local = { audio: this.microphone !== null && (choice?.audio ?? false), video: this.camera !== null, screen: false };
  }

  /** Placeholders for the senders of a new publish connection (the old ones stop). */
  newPlaceholders(): Placeholders {
    this.placeholders?.stop();
    this.placeholders = new Placeholders();
    this.proven = { audio: false, video: false };
    return this.placeholders;
  }

  /** A sender was proved to go through the worker: its real track goes on it now. */
  async attachReal(kind: "audio" | "video", sender: RTCRtpSender): Promise<void> {
    this.proven[kind] = true;
    await sender.replaceTrack(kind === "audio" ? this.microphone : this.screen ?? this.camera);
    if (this.proven.audio && this.proven.video) this.placeholders?.stop();
  }

  /** The real track of `kind` now (null: camera off). */
  realTrack(kind: "audio" | "video"): MediaStreamTrack | null {
    return kind === "audio" ? this.microphone : this.screen ?? this.camera;
  }

  /** What the video senders send: the publish one once proved, and the direct one. */
  private async setVideo(track: MediaStreamTrack | null): Promise<void> {
    await this.directVideo?.replaceTrack(track).catch(() => undefined);
    if (this.proven.video) await this.videoSender?.replaceTrack(track);
  }

  wireControls(): void {
    const signal = this.signal;
    button("mute-button").addEventListener("click", () => this.toggleMute(), { signal });
    button("camera-button").addEventListener("click", () => void this.toggleCamera(), { signal });
    button("screen-button").addEventListener("click", () => void this.toggleScreen(), { signal });
  }

  renderControls(listenOnly: boolean): void {
    const l = state.local;
    setToggle("mute-button", !l.audio, l.audio ? "Mute" : "Unmute");
    setToggle("camera-button", !l.video, l.video ? "Camera off" : "Camera on");
    setToggle("screen-button", l.screen, l.screen ? "Stop sharing" : "Share screen");
    for (const id of ["mute-button", "camera-button", "screen-button"]) button(id).hidden = listenOnly; // nothing to send
    button("mute-button").disabled = listenOnly || this.microphone === null;
    button("screen-button").disabled = listenOnly || navigator.mediaDevices?.getDisplayMedia === undefined;
  }

  private changed(): void {
    this.renderControls(false);
    this.showSelf();
    this.host.changed();
  }

  toggleMute(): void {
    if (this.microphone === null || this.host.ended()) return;
    this.microphone.enabled = !this.microphone.enabled;
    state.local.audio = this.microphone.enabled;
    this.changed();
  }

  async toggleCamera(): Promise<void> {
    if (this.host.ended() || this.videoSender === null) return;
    const b = button("camera-button");
    b.disabled = true;
    try {
      if (this.camera !== null) {
        this.camera.stop();
        this.camera = null;
        if (this.screen === null) await this.setVideo(null);
        state.local.video = false;
      } else {
        const media = await navigator.mediaDevices.getUserMedia({ video: this.cameraConstraints });
        const track = media.getVideoTracks()[0];
        if (track === undefined) throw new Error("no camera track");
        if (this.host.ended()) {
          track.stop();
          return;
        }
        this.camera = track;
        if (this.screen === null) await this.setVideo(track); // else at the proof
        state.local.video = true;
      }
      this.changed();
    } catch (error) {
      this.host.notice(`Camera: ${message(error)}`);
    } finally {
      b.disabled = false;
    }
  }

  async toggleScreen(): Promise<void> {
    if (this.host.ended() || this.videoSender === null) return;
    if (this.screen !== null) {
      await this.stopScreen();
      return;
    }
    try {
      const media = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 15 } }, audio: false });
      const track = media.getVideoTracks()[0];
      if (track === undefined) throw new Error("nothing was shared");
      if (this.host.ended()) {
        track.stop();
        return;
      }
      track.contentHint = "detail";
      this.screen = track;
      track.addEventListener("ended", () => void this.stopScreen(), { signal: this.signal }); // the browser's own "Stop sharing"
      await this.setVideo(track); // else at the proof
      state.local.screen = true;
      this.changed();
    } catch (error) {
      // the user closing the picker is not an error worth more than a line
      this.host.notice(error instanceof DOMException && error.name === "NotAllowedError" ? "Screen sharing was cancelled." : `Screen sharing: ${message(error)}`);
    }
  }

  private async stopScreen(): Promise<void> {
    const screen = this.screen;
    if (screen === null) return;
    this.screen = null;
    screen.stop();
    if (!this.host.ended() && this.videoSender !== null) await this.setVideo(this.camera);
    state.local.screen = false;
    this.changed();
  }

  showSelf(): void {
    const track = this.screen ?? this.camera;
    const video = $("self-video") as HTMLVideoElement;
    video.srcObject = track === null ? null : new MediaStream([track]);
    video.classList.toggle("screen", this.screen !== null);
    $("self-off").hidden = track !== null;
  }

  /** The call ended: every track and placeholder stops. */
  stop(): void {
    for (const t of [this.microphone, this.camera, this.screen]) t?.stop();
    this.placeholders?.stop();
  }
}
