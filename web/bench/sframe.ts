/**
 * SFrame cost per frame in the browser, for bench/browser/sframe.py (page
 * web/bench/sframe.html, bundle web/dist/bench/sframe.js).
 *
 * The same calls as the media transform worker (web/src/media/transform-worker.ts):
 * `protect(sender, codec, frame)` and `unprotect(context, codec, wire)` of
 * web/src/crypto/frames.ts, codec bytes kept clear, for every cipher suite. The frames
 * come from Python (the benchmark media of bench/media.py, as bench/crypto.py uses).
 *
 * `performance.now()` is coarsened in a page that is not cross-origin isolated (100 µs
 * in Chromium), so single calls are not timed: a round is `batch` calls one after the
 * other (each awaited, as the worker does per frame), and the figure is the median over
 * `rounds` rounds of the round's time divided by `batch` (and the best round, which a
 * busy machine disturbs least). Decryption gets fresh wire
 * frames each round (the replay window refuses a frame twice); making them is not timed.
 *
 * The same module runs on the page's main thread and in a dedicated worker (where the
 * transforms run): `window.hotlineBenchSFrame(frames, options)` measures both.
 */

import { Codec, SFrameContext, SFrameSender, fromHex, protect, randomBytes, unprotect } from "../src/crypto/index.js";
import { CipherSuite } from "../src/crypto/suites.js";

export interface BenchFrame {
  readonly name: string;
  readonly codec: "opus" | "vp8";
  readonly hex: string;
}

export interface BenchOptions {
  readonly rounds: number;
  readonly batch: number;
  readonly warmup: number;
}

export interface BenchRow {
  suite: string;
  suite_id: number;
  frame: string;
  bytes: number;
  encrypt_us: number;
  encrypt_best_us: number;
  decrypt_us: number;
  decrypt_best_us: number;
  overhead_bytes: number;
}

interface Results {
  page: BenchRow[];
  worker: BenchRow[];
  userAgent: string;
  crossOriginIsolated: boolean;
}

declare global {
  interface Window {
    hotlineBenchSFrame: (frames: BenchFrame[], options: BenchOptions) => Promise<Results>;
  }
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

/** Median and minimum over rounds of the mean µs per call of `batch` sequential calls. */
async function timed(rounds: number, batch: number, prepare: (round: number) => Promise<void>,
  call: (i: number) => Promise<unknown>): Promise<{ median: number; best: number }> {
  const perCall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    await prepare(r);
    const t0 = performance.now();
    for (let i = 0; i < batch; i++) await call(i);
    perCall.push(((performance.now() - t0) * 1000) / batch);
  }
  const round1 = (v: number): number => Math.round(v * 10) / 10;
  return { median: round1(median(perCall)), best: round1(Math.min(...perCall)) };
}

export async function measure(frames: BenchFrame[], o: BenchOptions): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const [name, suite] of Object.entries(CipherSuite)) {
    const base = randomBytes(16);
    const kid = 5n;
    for (const f of frames) {
      const codec = f.codec === "opus" ? Codec.OPUS : Codec.VP8;
      const frame = fromHex(f.hex);
      const ctx = new SFrameContext(suite);
      await ctx.addEncryptionKey(kid, base);
      const sender = new SFrameSender(ctx, kid);
      const dec = new SFrameContext(suite, { replayWindow: 1 << 16 });
      await dec.addDecryptionKey(kid, base);
      const first = await protect(sender, codec, frame);
      await unprotect(dec, codec, first);
      for (let i = 0; i < o.warmup; i++) await unprotect(dec, codec, await protect(sender, codec, frame));
      const encrypt = await timed(o.rounds, o.batch, async () => undefined, () => protect(sender, codec, frame));
      let wires: Uint8Array[] = [];
      const decrypt = await timed(o.rounds, o.batch, async () => {
        wires = [];
        for (let i = 0; i < o.batch; i++) wires.push(await protect(sender, codec, frame));
      }, (i) => unprotect(dec, codec, wires[i]!));
      rows.push({
        suite: name, suite_id: suite, frame: f.name, bytes: frame.length,
        encrypt_us: encrypt.median, encrypt_best_us: encrypt.best,
        decrypt_us: decrypt.median, decrypt_best_us: decrypt.best, overhead_bytes: first.length - frame.length,
      });
    }
  }
  return rows;
}

interface Request { frames: BenchFrame[]; options: BenchOptions }

if (typeof document === "undefined") {
  // in the worker: one request, one answer
  self.addEventListener("message", (event: MessageEvent<Request>) => {
    measure(event.data.frames, event.data.options).then(
      (rows) => self.postMessage({ rows }),
      (error: unknown) => self.postMessage({ error: String(error) }),
    );
  });
} else {
  window.hotlineBenchSFrame = async (frames, options) => {
    const page = await measure(frames, options);
    const worker = new Worker(import.meta.url, { type: "module" });
    const answer = await new Promise<{ rows?: BenchRow[]; error?: string }>((resolve) => {
      worker.addEventListener("message", (e: MessageEvent<{ rows?: BenchRow[]; error?: string }>) => resolve(e.data));
      worker.addEventListener("error", (e) => resolve({ error: e.message }));
      worker.postMessage({ frames, options } satisfies Request);
    });
    worker.terminate();
    if (answer.rows === undefined) throw new Error(`worker: ${answer.error ?? "no answer"}`);
    return { page, worker: answer.rows, userAgent: navigator.userAgent, crossOriginIsolated: self.crossOriginIsolated };
  };
  document.getElementById("status")!.textContent = "ready";
}
