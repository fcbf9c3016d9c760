/**
 * Runs every case of tests/vectors/uptime-v1.json (made by Python:
 * tests/vectors/generate_uptime_v1.py) against web/src/crypto in the browser: the signed
 * link-test report's exact bytes and digest, strict decoding, record-entry hashes, and a
 * standby's chain following. Summary on `window.hotlineUptimeVectors`:
 *
 *     { done, passed, failed, failures: [...], counts: {group: cases run} }
 *
 * tests/browser/test_web_uptime_vectors.py compares `counts` with the JSON file.
 */

import { fromHex, toHex } from "../src/crypto/bytes.js";
import { chainFromJson, chainToJson, follow } from "../src/crypto/chainwatch.js";
import { Identity } from "../src/crypto/identity.js";
import { type Figures, type ReportPath, type ReportRole, ReportError, decodeReport, reportDigest, reportValid, signReport } from "../src/crypto/linkreport.js";
import { decodeEntry } from "../src/crypto/uptimelog.js";

interface ReportCase {
  name: string; seed: string; hotline: string; test_id: string; role: ReportRole; path: ReportPath; far_key: string;
  head_length: number; head_hash: string; group_code: string; figures: Figures; report: string; digest: string;
}
interface FollowCase { name: string; known: unknown; start: number; entries: string[]; me: string; ok: boolean; length_after: number }
interface Vectors {
  reports: ReportCase[];
  invalid_reports: { why: string; hex: string }[];
  entries: { seq: number; entry: string; hash: string }[];
  follow: FollowCase[];
}

interface Summary { done: boolean; passed: number; failed: number; failures: string[]; counts: Record<string, number> }
const summary: Summary = { done: false, passed: 0, failed: 0, failures: [], counts: {} };

async function check(group: string, name: string, body: () => Promise<void>): Promise<void> {
  summary.counts[group] = (summary.counts[group] ?? 0) + 1;
  try {
    await body();
    summary.passed += 1;
  } catch (error) {
    summary.failed += 1;
    summary.failures.push(`${group}/${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Error(what);
}

async function run(v: Vectors): Promise<void> {
  for (const c of v.reports) {
    await check("reports", c.name, async () => {
      const signer = await Identity.fromSeed(fromHex(c.seed));
      const report = await signReport(signer, {
        hotline: c.hotline, testId: c.test_id, role: c.role, path: c.path, farKey: fromHex(c.far_key), headLength: c.head_length,
        headHash: fromHex(c.head_hash), groupCode: c.group_code, figures: c.figures,
      });
      expect(toHex(report.encoded) === c.report, `bytes differ: ${toHex(report.encoded)}`);
      expect(toHex(await reportDigest(report)) === c.digest, "digest differs");
      const decoded = decodeReport(fromHex(c.report));
      expect(await reportValid(decoded), "signature does not verify");
      expect(toHex(decoded.encoded) === c.report && decoded.testId === c.test_id && decoded.hotline === c.hotline && decoded.path === c.path, "decoded differs");
      expect(decoded.figures.video_frames === c.figures.video_frames && decoded.figures.error === c.figures.error, "figures differ");
    });
  }
  for (const c of v.invalid_reports) {
    await check("invalid_reports", c.why, async () => {
      try {
        decodeReport(fromHex(c.hex));
      } catch (error) {
        expect(error instanceof ReportError, `wrong error ${String(error)}`);
        return;
      }
      throw new Error("accepted");
    });
  }
  for (const c of v.entries) {
    await check("entries", String(c.seq), async () => {
      const e = await decodeEntry(fromHex(c.entry));
      expect(e.seq === c.seq && toHex(e.hash) === c.hash, "hash or seq differs");
    });
  }
  for (const c of v.follow) {
    await check("follow", c.name, async () => {
      const known = chainFromJson(c.known);
      const problems = await follow(known, "red", c.start, c.entries.map(fromHex), fromHex(c.me));
      expect((problems.length === 0) === c.ok, `ok=${problems.length === 0}: ${problems.join("; ")}`);
      expect(known.length === c.length_after, `length ${known.length}`);
      if (!c.ok) expect(JSON.stringify(chainToJson(known)) === JSON.stringify(c.known), "state changed after a bad history");
    });
  }
}

async function main(): Promise<void> {
  const v = (await (await fetch("/tests/vectors/uptime-v1.json")).json()) as Vectors;
  await run(v);
  summary.done = true;
  (window as unknown as { hotlineUptimeVectors: Summary }).hotlineUptimeVectors = summary;
  document.getElementById("summary")!.textContent = JSON.stringify(summary, null, 1);
}

void main().catch((error: unknown) => {
  summary.failures.push(`page: ${String(error)}`);
  summary.failed += 1;
  summary.done = true;
  (window as unknown as { hotlineUptimeVectors: Summary }).hotlineUptimeVectors = summary;
});
