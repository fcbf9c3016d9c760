/**
 * The listener's channel mix (web/src/media/channelmix.ts) against
 * protocol/conformance/channel-mix.json (the Python client runs the same file).
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { floorGain, gainDb, streamGain } from "../../src/media/channelmix.js";
import { readJson } from "./support.js";

interface Stream {
  readonly channel: string;
  readonly gain: number;
}

interface Mix {
  readonly tolerance: number;
  readonly levels: readonly { readonly floor_db: number | null; readonly gain: number }[];
  readonly refused_levels: readonly number[];
  readonly cases: readonly { readonly name: string; readonly listen: string[]; readonly floor_db: number | null; readonly streams: readonly Stream[] }[];
}

const mix = readJson<Mix>("protocol/conformance/channel-mix.json");

function close(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= mix.tolerance, `${what}: ${got} != ${want}`);
}

test("floor levels", () => {
  for (const l of mix.levels) close(floorGain(l.floor_db), l.gain, `floor ${l.floor_db}`);
  for (const db of mix.refused_levels) assert.throws(() => floorGain(db), RangeError, String(db));
  assert.throws(() => floorGain(Number.NaN), RangeError);
});

test("which streams are heard, and how loud", () => {
  assert.ok(mix.cases.length >= 5);
  for (const c of mix.cases) {
    for (const s of c.streams) {
      close(streamGain(s.channel, { channels: c.listen, floorDb: c.floor_db }), s.gain, `${c.name}: ${JSON.stringify(s)}`);
    }
  }
});

test("dB", () => {
  assert.equal(gainDb(0), -Infinity);
  close(gainDb(0.1), -20, "0.1");
});
