/**
 * What a listener plays (web/src/media/channelmix.ts) against
 * protocol/conformance/interpretation.json (the Python client runs the same file:
 * tests/unit/client/test_interpretation.py).
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { FLOOR, floorGain, gainDb, streamGain } from "../../src/media/channelmix.js";
import { readJson } from "./support.js";

interface Case {
  readonly name: string;
  readonly member_channel: Readonly<Record<string, string>>;
  readonly listening: readonly string[];
  readonly floor_db: number | null;
  readonly gains?: Readonly<Record<string, number>>;
  readonly floor_refused?: boolean;
}

const { cases } = readJson<{ cases: Case[] }>("protocol/conformance/interpretation.json");

function close(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 1e-9, `${what}: ${got} != ${want}`);
}

test("what a listener plays, case by case", () => {
  assert.ok(cases.length >= 8);
  for (const c of cases) {
    const listening = { channels: c.listening, floorDb: c.floor_db };
    if (c.floor_refused === true) {
      assert.throws(() => streamGain(FLOOR, listening), RangeError, c.name);
      continue;
    }
    for (const [pid, gain] of Object.entries(c.gains ?? {})) {
      close(streamGain(c.member_channel[pid] ?? FLOOR, listening), gain, `${c.name}: participant ${pid}`);
    }
  }
});

test("floor levels", () => {
  close(floorGain(0), 1, "0 dB");
  close(floorGain(-40), 0.01, "-40 dB");
  assert.equal(floorGain(null), 0);
  for (const db of [0.5, -40.5, Number.NaN, Infinity]) assert.throws(() => floorGain(db), RangeError, String(db));
  assert.equal(gainDb(0), -Infinity);
  close(gainDb(0.1), -20, "0.1");
});
