/**
 * In-page probes for the browser benchmarks (bench/browser/), injected into the call page
 * (web/src/app, unchanged) before its own scripts by Playwright's `add_init_script`
 * (bundle: web/dist/bench/probes.js, an IIFE). Everything is on `window.hotlineBench`;
 * times are `performance.now()` of the page unless said otherwise.
 *
 * - Clicks: a capturing listener on the window notes when "Join <room>" (`data-room`) and
 *   "Join now" are clicked, before the page's own handlers run.
 * - `armJoin(party)`: watches for the call's tile of `party`; once its video element has
 *   a stream, two probes take the same video track: a `MediaStreamTrackProcessor` on a
 *   clone of it hands over the first decoded frame (`firstDecodedAt`: the first frame of
 *   `party` decrypted, as the transform worker passes nothing else to the decoder, and
 *   decoded), and a probe `<video>` (8×8 px, in the corner) notes the first frame
 *   presented for composition (`firstFrameAt`, its first `requestVideoFrameCallback`).
 *   Also noted: when the page reached "in-call" and when the tile showed the video (the
 *   page shows it once its worker counted decrypted frames; it polls every 500 ms).
 * - `timecodeCamera(w, h, fps)`: `getUserMedia` gives a canvas track instead of the fake
 *   camera (the fake microphone stays); each frame is drawn with the time it was drawn as
 *   a code of 32 black/white cells and captured at once (`requestFrame`).
 * - `readTimecode(party)`: for every frame of `party`'s video presented at this page,
 *   draws it to a canvas, reads the code back and keeps (code, presentation time,
 *   expected display time, receive time, read time), as absolute times
 *   (`performance.timeOrigin + t`) so that two pages of one browser can be compared.
 * - `trackPeerConnections()`: keeps every RTCPeerConnection the page makes (a subclass
 *   put in place of the constructor), so that `rtpStats()` can sum the getStats counters
 *   of all of them by kind and direction (jitter buffer, decode and encode times).
 */

const COLS = 8;
const ROWS = 4;
const BITS = 24; // milliseconds modulo 2**24 (4.6 h); the other 8 cells are a check byte

interface JoinMarks {
  party: string;
  armedAt: number;
  joinRoomAt: number | null;
  joinNowAt: number | null;
  inCallAt: number | null;
  trackAt: number | null;
  firstDecodedAt: number | null; // MediaStreamTrackProcessor: first decoded VideoFrame
  firstFrameAt: number | null; // requestVideoFrameCallback presentationTime
  firstFrameCallbackAt: number | null;
  shownAt: number | null;
  done: boolean;
}

type Sample = [code: number, presented: number, expected: number, received: number | null, read: number];

interface Reading {
  party: string;
  samples: Sample[];
  unreadable: number;
  width: number;
  height: number;
  active: boolean;
}

type Counters = Record<string, Record<string, number>>; // "inbound-rtp/video" -> counter -> sum

interface Bench {
  now(): number;
  /** Frames painted by `timecodeCamera`'s canvases so far. */
  painted: number;
  join: JoinMarks | null;
  reading: Reading | null;
  armJoin(party: string): void;
  timecodeCamera(width: number, height: number, fps: number): void;
  readTimecode(party: string): void;
  stopReading(): Reading | null;
  trackPeerConnections(): void;
  rtpStats(): Promise<Counters>;
}

declare global {
  interface Window {
    hotlineBench: Bench;
  }
}

const absolute = (t: number): number => performance.timeOrigin + t;

function appPhase(): string {
  return (window as unknown as { hotlineApp?: { phase?: string } }).hotlineApp?.phase ?? "";
}

function tileVideo(party: string): HTMLVideoElement | null {
  return document.querySelector<HTMLVideoElement>(`#tiles .tile[data-party="${CSS.escape(party)}"] video`);
}

/** A small video element playing `track`, kept in the page so that it is composited. */
function probeVideo(track: MediaStreamTrack): HTMLVideoElement {
  const v = document.createElement("video");
  v.muted = true;
  v.autoplay = true;
  v.playsInline = true;
  // the page's CSP refuses style attributes; the CSSOM is allowed
  Object.assign(v.style, { position: "fixed", right: "0", bottom: "0", width: "8px", height: "8px", zIndex: "99999" });
  v.dataset["benchProbe"] = "1";
  v.srcObject = new MediaStream([track]);
  document.body.append(v);
  void v.play().catch(() => undefined);
  return v;
}

/** Polls (4 ms) until `find` returns something, then hands it on. */
function whenFound<T>(find: () => T | null, then: (found: T) => void, stop: () => boolean): void {
  const timer = setInterval(() => {
    if (stop()) {
      clearInterval(timer);
      return;
    }
    const found = find();
    if (found !== null) {
      clearInterval(timer);
      then(found);
    }
  }, 1);
}

type Processor = new (init: { track: MediaStreamTrack }) => { readonly readable: ReadableStream<VideoFrame> };

/** Calls `then` with the time the first decoded frame of `track` reached this page
 * (Chromium's MediaStreamTrackProcessor, on a clone: the call's own track is untouched). */
function firstDecoded(track: MediaStreamTrack, then: (t: number) => void): void {
  const P = (window as unknown as { MediaStreamTrackProcessor?: Processor }).MediaStreamTrackProcessor;
  if (P === undefined) throw new Error("no MediaStreamTrackProcessor in this browser");
  const clone = track.clone();
  const reader = new P({ track: clone }).readable.getReader();
  void reader.read().then(({ value }) => {
    then(performance.now());
    value?.close();
    void reader.cancel().catch(() => undefined);
    clone.stop();
  });
}

function remoteVideoTrack(party: string): MediaStreamTrack | null {
  const v = tileVideo(party);
  const stream = v?.srcObject;
  return stream instanceof MediaStream ? stream.getVideoTracks()[0] ?? null : null;
}

// ------------------------------------------------------------------ time code

function checkByte(value: number): number {
  return ((value & 0xff) + 3 * ((value >> 8) & 0xff) + 7 * ((value >> 16) & 0xff)) & 0xff ^ 0x5a;
}

function drawCode(g: CanvasRenderingContext2D, w: number, h: number, value: number): void {
  const word = (value & 0xffffff) | (checkByte(value) << BITS);
  const cw = w / COLS;
  const ch = h / ROWS;
  for (let i = 0; i < COLS * ROWS; i++) {
    g.fillStyle = (word >>> i) & 1 ? "#fff" : "#000";
    g.fillRect((i % COLS) * cw, Math.floor(i / COLS) * ch, cw + 1, ch + 1);
  }
}

/** The code of one decoded picture, or null if a cell is not clearly black or white or
 * the check byte does not match. */
function readCode(pixels: ImageData): number | null {
  const { width: w, height: h, data } = pixels;
  let word = 0;
  for (let i = 0; i < COLS * ROWS; i++) {
    const cx = Math.floor(((i % COLS) + 0.5) * (w / COLS));
    const cy = Math.floor((Math.floor(i / COLS) + 0.5) * (h / ROWS));
    const r = Math.max(1, Math.floor(Math.min(w / COLS, h / ROWS) / 6));
    let sum = 0;
    let n = 0;
    for (let y = cy - r; y <= cy + r; y++) {
      for (let x = cx - r; x <= cx + r; x++) {
        const p = (y * w + x) * 4;
        sum += (data[p]! + data[p + 1]! + data[p + 2]!) / 3;
        n++;
      }
    }
    const mean = sum / n;
    if (mean > 64 && mean < 192) return null;
    if (mean >= 192) word |= 1 << i;
  }
  const value = word & 0xffffff;
  return ((word >>> BITS) & 0xff) === checkByte(value) ? value : null;
}

function timecodeTrack(width: number, height: number, fps: number): MediaStreamTrack {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const g = canvas.getContext("2d");
  if (g === null) throw new Error("no 2D canvas");
  const track = canvas.captureStream(0).getVideoTracks()[0] as CanvasCaptureMediaStreamTrack | undefined;
  if (track === undefined) throw new Error("no canvas track");
  const timer = setInterval(() => {
    if (track.readyState === "ended") {
      clearInterval(timer);
      return;
    }
    drawCode(g, width, height, Math.round(absolute(performance.now())) % 2 ** BITS);
    track.requestFrame();
    bench.painted += 1;
  }, 1000 / fps); // timers, not animation frames: they run in a hidden page too
  return track;
}

// ------------------------------------------------------------------ getStats

const peerConnections: RTCPeerConnection[] = [];

async function sumStats(): Promise<Counters> {
  const out: Counters = {};
  for (const pc of peerConnections) {
    if (pc.connectionState === "closed") continue;
    const report = await pc.getStats();
    report.forEach((s: Record<string, unknown>) => {
      if ((s["type"] !== "inbound-rtp" && s["type"] !== "outbound-rtp") || typeof s["kind"] !== "string") return;
      const sums = (out[`${s["type"]}/${s["kind"]}`] ??= {});
      for (const [k, v] of Object.entries(s)) if (typeof v === "number" && k !== "ssrc") sums[k] = (sums[k] ?? 0) + v;
    });
  }
  return out;
}

// ------------------------------------------------------------------ the probes

const bench: Bench = {
  now: () => absolute(performance.now()),
  painted: 0,
  join: null,
  reading: null,

  armJoin(party: string): void {
    const marks: JoinMarks = {
      party, armedAt: performance.now(), joinRoomAt: null, joinNowAt: null, inCallAt: null,
      trackAt: null, firstDecodedAt: null, firstFrameAt: null, firstFrameCallbackAt: null, shownAt: null, done: false,
    };
    bench.join = marks;
    const stale = (): boolean => bench.join !== marks;
    const phase = setInterval(() => {
      if (stale()) clearInterval(phase);
      else if (marks.inCallAt === null && appPhase() === "in-call") marks.inCallAt = performance.now();
      else if (marks.shownAt === null && tileVideo(party)?.hidden === false) marks.shownAt = performance.now();
      if (marks.inCallAt !== null && marks.shownAt !== null) clearInterval(phase);
    }, 1);
    const settle = (): void => {
      marks.done = marks.firstDecodedAt !== null && marks.firstFrameAt !== null;
    };
    whenFound(() => remoteVideoTrack(party), (track) => {
      marks.trackAt = performance.now();
      firstDecoded(track, (t) => {
        marks.firstDecodedAt = t;
        settle();
      });
      const v = probeVideo(track);
      v.requestVideoFrameCallback((now, meta) => {
        marks.firstFrameAt = meta.presentationTime;
        marks.firstFrameCallbackAt = now;
        settle();
        v.srcObject = null;
        v.remove();
      });
    }, stale);
  },

  timecodeCamera(width: number, height: number, fps: number): void {
    const devices = navigator.mediaDevices;
    const real = devices.getUserMedia.bind(devices);
    devices.getUserMedia = async (constraints?: MediaStreamConstraints): Promise<MediaStream> => {
      const media = await real({ audio: constraints?.audio ?? false });
      if (constraints?.video) media.addTrack(timecodeTrack(width, height, fps));
      return media;
    };
  },

  readTimecode(party: string): void {
    const reading: Reading = { party, samples: [], unreadable: 0, width: 0, height: 0, active: true };
    bench.reading = reading;
    const canvas = document.createElement("canvas");
    const g = canvas.getContext("2d", { willReadFrequently: true });
    if (g === null) throw new Error("no 2D canvas");
    whenFound(() => remoteVideoTrack(party), (track) => {
      const v = probeVideo(track);
      const onFrame = (now: number, meta: VideoFrameCallbackMetadata): void => {
        if (!reading.active) {
          v.srcObject = null;
          v.remove();
          return;
        }
        const w = meta.width;
        const h = meta.height;
        if (canvas.width !== w || canvas.height !== h) {
          canvas.width = w;
          canvas.height = h;
        }
        g.drawImage(v, 0, 0, w, h);
        const code = readCode(g.getImageData(0, 0, w, h));
        const read = performance.now();
        reading.width = w;
        reading.height = h;
        if (code === null) reading.unreadable += 1;
        else reading.samples.push([code, absolute(meta.presentationTime), absolute(meta.expectedDisplayTime),
          meta.receiveTime === undefined ? null : absolute(meta.receiveTime), absolute(read)]);
        void now;
        v.requestVideoFrameCallback(onFrame);
      };
      v.requestVideoFrameCallback(onFrame);
    }, () => !reading.active);
  },

  stopReading(): Reading | null {
    const r = bench.reading;
    if (r !== null) r.active = false;
    return r;
  },

  trackPeerConnections(): void {
    const Native = window.RTCPeerConnection;
    class Tracked extends Native {
      constructor(configuration?: RTCConfiguration) {
        super(configuration);
        peerConnections.push(this);
      }
    }
    window.RTCPeerConnection = Tracked;
  },

  rtpStats: sumStats,
};

window.hotlineBench = bench;

window.addEventListener("click", (event) => {
  const j = bench.join;
  const target = event.target;
  if (j === null || !(target instanceof HTMLButtonElement)) return;
  if (target.dataset["room"] !== undefined) j.joinRoomAt = performance.now();
  else if (target.textContent?.trim() === "Join now") j.joinNowAt = performance.now();
}, { capture: true });

export {};
