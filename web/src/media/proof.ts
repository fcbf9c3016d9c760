/**
 * Fail closed before the first frame, not after (docs/PROTOCOL.md "Senders prove their
 * transform first"): a sender starts on a placeholder track (a dark canvas, silence), and
 * gets the real camera or microphone only once its frames were seen encrypted by the
 * transform worker and the getStats cross-check agrees.
 *
 *     const placeholders = new Placeholders();
 *     const t = e2ee.addTransceiver(pc, placeholders.track("video"), { direction: "sendonly" });
 *     ... negotiate ...
 *     await proveSender(e2ee, t.sender, "video");   // throws if it cannot be proved
 *     await t.sender.replaceTrack(camera);
 *     placeholders.stop();
 *
 * If Chromium ignored the transform (the silent failure pipeline.ts describes), only
 * placeholder frames ever leave: the worker never sees the sender's frames, so the proof
 * never comes, and the cross-check that runs meanwhile ends the call (fatal "bypass").
 */

import type { MediaE2EE } from "./pipeline.js";
import type { MediaKind } from "./messages.js";

/** Frames the worker must have encrypted for a sender before its real track is attached. */
export const PROOF_FRAMES = 3;
const PROOF_INTERVAL_MS = 100;
/** A sender not proved this long after its connection came up: the call ends. */
export const PROOF_TIMEOUT_MS = 15_000;

/** Placeholder tracks: a dark, slowly changing canvas (160x120, ~15 fps) and silence.
 * The silence comes from an AudioContext, which Chromium lets run once the page had a user
 * gesture (the call page publishes after "Join now" or "Answer"); one that stays suspended
 * makes no frames, so the audio sender is never proved and the call ends (fail closed). */
export class Placeholders {
  private readonly tracks: MediaStreamTrack[] = [];
  private timer: ReturnType<typeof setInterval> | null = null;
  private audio: AudioContext | null = null;

  track(kind: MediaKind): MediaStreamTrack {
    const track = kind === "video" ? this.canvasTrack() : this.silentTrack();
    this.tracks.push(track);
    return track;
  }

  private canvasTrack(): MediaStreamTrack {
    const canvas = document.createElement("canvas");
    canvas.width = 160;
    canvas.height = 120;
    const g = canvas.getContext("2d");
    let n = 0;
    const paint = (): void => {
      if (g === null) return;
      g.fillStyle = `rgb(16, 16, ${16 + (n++ % 8)})`; // repainted, so that frames come
      g.fillRect(0, 0, canvas.width, canvas.height);
    };
    paint();
    this.timer = setInterval(paint, 66);
    const track = canvas.captureStream(15).getVideoTracks()[0];
    if (track === undefined) throw new Error("no placeholder video track");
    return track;
  }

  private silentTrack(): MediaStreamTrack {
    const context = new AudioContext();
    this.audio = context;
    void context.resume().catch(() => undefined);
    const source = context.createConstantSource();
    source.offset.value = 0;
    const sink = context.createMediaStreamDestination();
    source.connect(sink);
    source.start();
    const track = sink.stream.getAudioTracks()[0];
    if (track === undefined) throw new Error("no placeholder audio track");
    return track;
  }

  stop(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    for (const t of this.tracks) t.stop();
    void this.audio?.close().catch(() => undefined);
    this.audio = null;
  }
}

function statOf(report: RTCStatsReport, field: string): number {
  let total = 0;
  report.forEach((s: Record<string, unknown>) => {
    if (s["type"] === "outbound-rtp" && typeof s[field] === "number") total += s[field] as number;
  });
  return total;
}

/**
 * Resolves once the worker has encrypted PROOF_FRAMES of `sender`'s frames, the
 * browser's own count of what that sender encoded (video framesEncoded) or sent (audio
 * packetsSent) has moved, and a full cross-check (`e2ee.check()`) passed after that.
 * Rejects if the pipeline failed (a bypass), if `cancelled()` turns true, or after
 * PROOF_TIMEOUT_MS counted from when `started()` first returns true (the connection is
 * up: before that no frame is encoded).
 */
export async function proveSender(
  e2ee: MediaE2EE, sender: RTCRtpSender, kind: MediaKind,
  started: () => boolean, cancelled: () => boolean,
): Promise<void> {
  const id = e2ee.transformOf(sender);
  if (id === undefined) throw new Error(`the ${kind} sender has no E2EE transform`);
  const field = kind === "video" ? "framesEncoded" : "packetsSent";
  let since: number | null = null;
  for (;;) {
    if (cancelled()) throw new Error("cancelled");
    if (e2ee.fatalError !== null) throw e2ee.fatalError;
    if (since === null && started()) since = performance.now();
    if (since !== null && performance.now() - since > PROOF_TIMEOUT_MS) {
      throw new Error(`the E2EE worker did not encrypt the ${kind} sender's frames within ${PROOF_TIMEOUT_MS / 1000} s`);
    }
    const stat = statOf(await sender.getStats(), field);
    const counters = (await e2ee.counters()).transforms.find((c) => c.id === id);
    if (stat > 0 && counters !== undefined && counters.framesOut >= PROOF_FRAMES) {
      // the cross-check after the figures: the browser's count within the worker's
      if (await e2ee.check()) return;
      throw e2ee.fatalError ?? new Error("the E2EE check failed");
    }
    await new Promise((r) => setTimeout(r, PROOF_INTERVAL_MS));
  }
}
