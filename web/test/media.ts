/**
 * Test page for web/src/media (the E2EE transforms and their fail-closed check), driven
 * by tests/browser/test_web_media.py. Two RTCPeerConnections in this one tab, connected
 * to each other over loopback ICE (no server), each with its own MediaE2EE (its own
 * worker, as two participants would have); the camera and microphone are Chromium's
 * fake devices.
 *
 *     await window.hotlineMedia.call({...})     a call A -> B; see CallParams
 *     await window.hotlineMedia.inject({...})   wire frames into a worker's receive path
 *
 * The worker is the test build (web/dist/test/transform-worker.js, HOTLINE_TEST_HOOKS),
 * which can post back wire frames (ciphertext) and run `test-decrypt`.
 */

import { fromHex, toHex } from "../src/crypto/bytes.js";
import { Slot, makeKid } from "../src/crypto/kid.js";
import { type FatalDetail, MediaE2EE, restrictCodecs } from "../src/media/pipeline.js";
import type { CounterReport, FromWorker, TestDecryptResult } from "../src/media/messages.js";

const WORKER = "/web/dist/test/transform-worker.js";

interface CallParams {
  readonly cipherSuite: number;
  readonly participantId: number;
  readonly generation: number;
  readonly baseKey: string; // hex, the sender's
  readonly receiverKey: string; // hex, what B installs (the same, or a wrong one)
  /** Attach A's video sender transform only after an await (the Chromium trap). */
  readonly lateVideoSender?: boolean;
  /** Attach B's receiver transforms after setRemoteDescription resolved, not in 'track'. */
  readonly lateReceivers?: boolean;
  /** B guards its connection but attaches no receiver transform at all. */
  readonly noReceivers?: boolean;
  /** Wire frames A's sender transforms post back. */
  readonly capture?: number;
  /** Stop once B decoded this many video frames (or on a fatal error, or timeout). */
  readonly targetFrames: number;
  readonly timeoutMs: number;
  /** Stop on A's fatal error instead. */
  readonly untilFatal?: boolean;
}

interface Captured { readonly kind: string; readonly frameType: string; readonly wire: string }

interface CallResult {
  readonly framesDecoded: number;
  readonly framesEncoded: number;
  readonly packetsReceivedAudio: number;
  readonly counters: { readonly a: CounterReport; readonly b: CounterReport };
  readonly fatal: { readonly a: FatalDetail[]; readonly b: FatalDetail[] };
  readonly captured: Captured[];
  readonly picture: { readonly width: number; readonly height: number; readonly mean: number; readonly stddev: number; readonly changed: number } | null;
  readonly mimeTypes: string[];
  readonly elapsedMs: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function inboundVideo(report: RTCStatsReport, field: string): number {
  let n = 0;
  report.forEach((s: Record<string, unknown>) => {
    if (s["type"] === "inbound-rtp" && s["kind"] === "video" && typeof s[field] === "number") n += s[field] as number;
  });
  return n;
}

function statField(report: RTCStatsReport, type: string, kind: string, field: string): number {
  let n = 0;
  report.forEach((s: Record<string, unknown>) => {
    if (s["type"] === type && s["kind"] === kind && typeof s[field] === "number") n += s[field] as number;
  });
  return n;
}

function codecs(report: RTCStatsReport): string[] {
  const out: string[] = [];
  report.forEach((s: Record<string, unknown>) => {
    if (s["type"] === "codec" && typeof s["mimeType"] === "string") out.push(s["mimeType"] as string);
  });
  return out.sort();
}

/** Luma mean and spread of what the video element shows, and how much of it changed
 * between two looks 300 ms apart (the fake camera animates). */
async function look(video: HTMLVideoElement): Promise<CallResult["picture"]> {
  if (video.videoWidth === 0) return null;
  const canvas = document.createElement("canvas");
  canvas.width = 160;
  canvas.height = 120;
  const g = canvas.getContext("2d", { willReadFrequently: true })!;
  const grab = (): Uint8ClampedArray => {
    g.drawImage(video, 0, 0, canvas.width, canvas.height);
    return g.getImageData(0, 0, canvas.width, canvas.height).data;
  };
  const first = grab();
  await sleep(300);
  const second = grab();
  let sum = 0, sq = 0, changed = 0;
  const n = first.length / 4;
  for (let i = 0; i < first.length; i += 4) {
    const y = 0.299 * first[i]! + 0.587 * first[i + 1]! + 0.114 * first[i + 2]!;
    sum += y;
    sq += y * y;
    const d = Math.abs(first[i]! - second[i]!) + Math.abs(first[i + 1]! - second[i + 1]!) + Math.abs(first[i + 2]! - second[i + 2]!);
    if (d > 30) changed++;
  }
  const mean = sum / n;
  return { width: video.videoWidth, height: video.videoHeight, mean, stddev: Math.sqrt(Math.max(0, sq / n - mean * mean)), changed: changed / n };
}

async function call(p: CallParams): Promise<CallResult> {
  const started = performance.now();
  const fatal = { a: [] as FatalDetail[], b: [] as FatalDetail[] };
  const captured: Captured[] = [];
  const a = new MediaE2EE({ workerUrl: WORKER, cipherSuite: p.cipherSuite, onFatal: (e) => fatal.a.push(e.detail), checkIntervalMs: 500, capture: p.capture ?? 0 });
  const b = new MediaE2EE({ workerUrl: WORKER, cipherSuite: p.cipherSuite, onFatal: (e) => fatal.b.push(e.detail), checkIntervalMs: 500 });
  a.addEventListener("capture", (event) => {
    const m = (event as CustomEvent<FromWorker & { type: "capture" }>).detail;
    captured.push({ kind: m.kind, frameType: m.frameType, wire: toHex(m.wire) });
  });
  const kidAudio = makeKid(p.participantId, p.generation, Slot.AUDIO);
  const kidVideo = makeKid(p.participantId, p.generation, Slot.VIDEO);
  await a.setSendingKey(Slot.AUDIO, kidAudio, fromHex(p.baseKey));
  await a.setSendingKey(Slot.VIDEO, kidVideo, fromHex(p.baseKey));
  await b.installKey(kidAudio, fromHex(p.receiverKey));
  await b.installKey(kidVideo, fromHex(p.receiverKey));

  const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 320, height: 240 } });
  const pcA = new RTCPeerConnection({ iceServers: [] });
  const pcB = new RTCPeerConnection({ iceServers: [] });
  pcA.onicecandidate = (e) => void (e.candidate && pcB.addIceCandidate(e.candidate));
  pcB.onicecandidate = (e) => void (e.candidate && pcA.addIceCandidate(e.candidate));
  const video = document.createElement("video");
  video.muted = true;
  video.autoplay = true;
  video.playsInline = true;
  document.body.append(video);
  if (p.noReceivers) b.guard(pcB);
  else if (!p.lateReceivers) b.watch(pcB); // receivers get their transform inside setRemoteDescription ('track')
  pcB.addEventListener("track", (e) => {
    if (e.track.kind === "video") video.srcObject = new MediaStream([e.track]);
  });

  a.addTransceiver(pcA, stream.getAudioTracks()[0]!, { direction: "sendonly" });
  if (p.lateVideoSender) {
    const t = pcA.addTransceiver(stream.getVideoTracks()[0]!, { direction: "sendonly" });
    restrictCodecs(t, "video");
    await sleep(0); // the trap: any await or timer between addTransceiver and the transform
    a.attachSender(t.sender, "video");
  } else {
    a.addTransceiver(pcA, stream.getVideoTracks()[0]!, { direction: "sendonly" });
  }

  await pcA.setLocalDescription(await pcA.createOffer());
  await pcB.setRemoteDescription(pcA.localDescription!);
  if (p.lateReceivers) {
    for (const t of pcB.getTransceivers()) b.attachReceiver(t.receiver);
  }
  await pcB.setLocalDescription(await pcB.createAnswer());
  await pcA.setRemoteDescription(pcB.localDescription!);

  let framesDecoded = 0;
  const deadline = performance.now() + p.timeoutMs;
  while (performance.now() < deadline) {
    await sleep(200);
    framesDecoded = inboundVideo(await pcB.getStats(), "framesDecoded");
    if (p.untilFatal ? fatal.a.length + fatal.b.length > 0 : framesDecoded >= p.targetFrames) break;
  }
  if (p.capture) {
    // wait for the captures to come back (at most 3 s)
    for (let i = 0; i < 30 && captured.length < 2 * p.capture; i++) await sleep(100);
  }
  // one last check each, with the counters the check saw
  await a.check();
  await b.check();
  const picture = await look(video);
  const statsA = await pcA.getStats();
  const statsB = await pcB.getStats();
  const result: CallResult = {
    framesDecoded: inboundVideo(statsB, "framesDecoded"),
    framesEncoded: statField(statsA, "outbound-rtp", "video", "framesEncoded"),
    packetsReceivedAudio: statField(statsB, "inbound-rtp", "audio", "packetsReceived"),
    counters: { a: await a.counters(), b: await b.counters() },
    fatal,
    captured,
    picture,
    mimeTypes: codecs(statsB),
    elapsedMs: performance.now() - started,
  };
  pcA.close();
  pcB.close();
  a.close();
  b.close();
  for (const t of stream.getTracks()) t.stop();
  video.remove();
  return result;
}

interface InjectStep {
  readonly kind: "audio" | "video";
  readonly wires?: string[];
  readonly install?: { readonly kid: string; readonly baseKey: string }; // kid as decimal
  readonly sleepMs?: number;
  /** Run the frames through a receive path bound to this participant. */
  readonly participant?: number;
}

/** Wire frames (made by Python) through a worker's receive path, step by step. */
async function inject(p: { cipherSuite: number; steps: InjectStep[] }): Promise<TestDecryptResult[]> {
  const e2ee = new MediaE2EE({ workerUrl: WORKER, cipherSuite: p.cipherSuite, onFatal: () => undefined });
  const results: TestDecryptResult[] = [];
  try {
    for (const step of p.steps) {
      if (step.install) await e2ee.installKey(BigInt(step.install.kid), fromHex(step.install.baseKey));
      if (step.sleepMs) await sleep(step.sleepMs);
      results.push((await e2ee.testDecrypt(step.kind, (step.wires ?? []).map(fromHex), step.participant)) as TestDecryptResult);
    }
  } finally {
    e2ee.close();
  }
  return results;
}

declare global {
  interface Window {
    hotlineMedia: { call: typeof call; inject: typeof inject; ready: boolean; userAgent: string };
  }
}

window.hotlineMedia = { call, inject, ready: true, userAgent: navigator.userAgent };
document.getElementById("status")!.textContent = "ready";
