/**
 * A standby's view of a hotline's uptime record (src/hotline/crypto/chainwatch.py, the
 * twin; cases in tests/vectors/uptime-v1.json "follow"): the head it knows, and the
 * check that what the server sends next extends it. Entries must continue the chain
 * (same hashes where they overlap, linked by prev_hash, nothing removed), every report's
 * co-signed head must be in it (else its signer was shown another history: a fork), and
 * the entry of each test this device signed must hold its report unchanged next to the
 * far end's valid report, signed by the key seen in the call, with the same group code.
 */

import { type Bytes, equal, fromHex, toHex } from "./bytes.js";
import { CryptoError } from "./errors.js";
import { type LinkReport, NO_KEY, decodeReport, reportDigest, reportValid } from "./linkreport.js";
import { GENESIS, type LogEntry, decodeEntry } from "./uptimelog.js";

export const KEEP = 256;

export interface Pending {
  digest: Uint8Array;
  farKey: Uint8Array;
  groupCode: string;
}

export interface KnownChain {
  length: number;
  hashes: Map<number, Bytes>;
  pending: Map<string, Pending>;
  alarm: string;
}

export function emptyChain(): KnownChain {
  return { length: 0, hashes: new Map(), pending: new Map(), alarm: "" };
}

export function head(known: KnownChain): [number, Bytes] {
  return known.length === 0 ? [0, GENESIS] : [known.length, known.hashes.get(known.length - 1) ?? GENESIS];
}

/** The JSON form (the same as Python's KnownChain.to_json). */
export function chainToJson(k: KnownChain): Record<string, unknown> {
  return {
    length: k.length,
    hashes: Object.fromEntries([...k.hashes].map(([s, h]) => [String(s), toHex(h)])),
    pending: Object.fromEntries([...k.pending].map(([t, p]) => [t, { digest: toHex(p.digest), far_key: toHex(p.farKey), group_code: p.groupCode }])),
    alarm: k.alarm,
  };
}

/** Throws for a document that is not one. */
export function chainFromJson(doc: unknown): KnownChain {
  const d = doc as { length: unknown; hashes: Record<string, string>; pending: Record<string, { digest: string; far_key: string; group_code: string }>; alarm?: unknown };
  if (typeof d.length !== "number" || !Number.isSafeInteger(d.length) || d.length < 0) throw new TypeError("not a record head");
  const hashes = new Map(Object.entries(d.hashes).map(([s, h]) => [Number(s), fromHex(h)] as [number, Bytes]));
  if ([...hashes.values()].some((h) => h.length !== 32)) throw new TypeError("not a record head");
  const pending = new Map(Object.entries(d.pending).map(([t, p]) => [t, { digest: fromHex(p.digest), farKey: fromHex(p.far_key), groupCode: String(p.group_code) }] as [string, Pending]));
  return { length: d.length, hashes, pending, alarm: typeof d.alarm === "string" ? d.alarm : "" };
}

function b64d(text: unknown): Bytes | null {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) return null;
  try {
    const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4)), (c) => c.charCodeAt(0));
  } catch {
    return null;
  }
}

/** party -> encoded report, for the ends of a linktest entry that hold one. */
export function entryReports(entry: LogEntry): Map<string, Bytes> {
  const out = new Map<string, Bytes>();
  const ends = entry.fields["ends"];
  if (typeof ends !== "object" || ends === null || Array.isArray(ends)) return out;
  for (const [party, end] of Object.entries(ends as Record<string, unknown>)) {
    const raw = typeof end === "object" && end !== null ? b64d((end as Record<string, unknown>)["report"]) : null;
    if (raw !== null && raw.length > 0) out.set(party, raw);
  }
  return out;
}

export function headProblem(report: LinkReport, hashAt: Map<number, Bytes>): string | null {
  if (report.headLength === 0) return equal(report.headHash, GENESIS) ? null : "co-signs an empty record with a hash";
  const known = hashAt.get(report.headLength - 1);
  if (known !== undefined && !equal(known, report.headHash)) {
    return `co-signs a record whose entry ${report.headLength - 1} differs from this one (it was shown another history: fork or rewrite)`;
  }
  return null;
}

/** Check the server's entries `start`.. against `known`; update `known` if nothing is
 * wrong, else leave it and return the problems. */
export async function follow(known: KnownChain, hotline: string, start: number, raws: readonly Uint8Array[], me: Uint8Array): Promise<string[]> {
  const problems: string[] = [];
  const entries: LogEntry[] = [];
  for (const [i, raw] of raws.entries()) {
    try {
      entries.push(await decodeEntry(raw));
    } catch {
      return [`entry ${start + i} cannot be parsed`];
    }
  }
  const end = start + entries.length;
  if (end < known.length) problems.push(`the record now has ${end} entries but this endpoint saw ${known.length}: entries were removed (history rewritten)`);
  if (start > known.length) problems.push(`the server skipped entries ${known.length}..${start - 1}`);
  const hashAt = new Map(known.hashes);
  let prev: Bytes | undefined = start === 0 ? GENESIS : known.hashes.get(start - 1);
  for (const [i, e] of entries.entries()) {
    const seq = start + i;
    if (e.seq !== seq || e.hotline !== hotline) {
      problems.push(`entry ${seq} is numbered ${e.seq} of hotline ${JSON.stringify(e.hotline)} (reordered or misplaced)`);
      break;
    }
    if (prev !== undefined && !equal(e.prevHash, prev)) {
      problems.push(`entry ${seq} does not link to entry ${seq - 1} this endpoint knows (history rewritten or forked)`);
      break;
    }
    const had = known.hashes.get(seq);
    if (had !== undefined && !equal(had, e.hash)) {
      problems.push(`entry ${seq} changed since this endpoint saw it (history rewritten)`);
      break;
    }
    prev = e.hash;
    hashAt.set(seq, e.hash);
  }
  if (problems.length) return problems;
  const pending = new Map(known.pending);
  for (const e of entries) if (e.kind === "linktest") problems.push(...(await checkTest(known, e, hashAt, me)));
  if (problems.length) {
    known.pending = pending;
    return problems;
  }
  known.length = Math.max(known.length, end);
  known.hashes = new Map([...hashAt].filter(([s]) => s >= known.length - KEEP));
  return [];
}

async function checkTest(known: KnownChain, e: LogEntry, hashAt: Map<number, Bytes>, me: Uint8Array): Promise<string[]> {
  const problems: string[] = [];
  const testId = String(e.fields["test_id"] ?? "");
  const reports: LinkReport[] = [];
  for (const [party, raw] of entryReports(e)) {
    let r: LinkReport;
    try {
      r = decodeReport(raw);
    } catch (error) {
      if (!(error instanceof CryptoError)) throw error;
      problems.push(`entry ${e.seq}: the report of ${party} cannot be parsed`);
      continue;
    }
    const problem = headProblem(r, hashAt);
    if (problem !== null) problems.push(`entry ${e.seq} (test ${testId}): the report of ${party} ${problem}`);
    reports.push(r);
  }
  const mine = known.pending.get(testId);
  if (mine === undefined) return problems;
  const own = reports.filter((r) => equal(r.signerKey, me));
  if (own.length === 0 || !equal(await reportDigest(own[0]!), mine.digest)) {
    problems.push(`entry ${e.seq} of test ${testId}, which this endpoint signed, does not hold its report unchanged`);
    return problems;
  }
  const filed = String(e.fields["path"] ?? "sfu");
  if (filed !== own[0]!.path) {
    problems.push(`entry ${e.seq} of test ${testId} files it under path ${JSON.stringify(filed)}; this endpoint measured ${JSON.stringify(own[0]!.path)}`);
  }
  const far = reports.filter((r) => !equal(r.signerKey, me));
  if (!equal(mine.farKey, NO_KEY)) {
    const f = far[0];
    if (f === undefined) {
      problems.push(`entry ${e.seq} of test ${testId} holds no report of the far end`);
    } else if (!equal(f.signerKey, mine.farKey) || !(await reportValid(f)) || f.testId !== testId || f.path !== own[0]!.path
      || !(equal(f.farKey, me) || equal(f.farKey, NO_KEY))) { // NO_KEY: the far end saw nobody
      problems.push(`entry ${e.seq} of test ${testId}: the far end's report is not signed by the key this endpoint saw in the call (forged)`);
    } else if (f.groupCode !== mine.groupCode) {
      problems.push(`entry ${e.seq} of test ${testId}: the far end saw group code ${f.groupCode || "-"}, this endpoint ${mine.groupCode || "-"}`);
    }
  }
  if (!problems.length) known.pending.delete(testId);
  return problems;
}

/** At a new test, every earlier test's entry must have come. */
export function missingReports(known: KnownChain): string[] {
  return [...known.pending.keys()].sort().map((t) => `the entry of test ${t}, which this endpoint signed, is missing from the record (hidden by the server, or the server stopped during that test)`);
}
