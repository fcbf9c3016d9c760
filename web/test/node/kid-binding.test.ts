/**
 * The KID-to-stream binding rule (src/crypto/kid.ts streamKidVerdict) on the conformance
 * cases of tests/vectors/kid-binding.json: every case's verdict is the file's (Python runs
 * the same file in tests/unit/crypto/test_kid_binding.py).
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { streamKidVerdict } from "../../src/crypto/kid.js";
import { readJson } from "./support.js";

interface Case {
  readonly stream_participant: number;
  readonly stream_kind: string;
  readonly kid: string;
  readonly verdict: string;
  readonly note: string;
}

const doc = readJson<{ cases: Case[] }>("tests/vectors/kid-binding.json");

test("kid-binding.json has cases", () => {
  assert.ok(doc.cases.length >= 15);
});

for (const c of doc.cases) {
  test(`kid binding: ${c.note}`, () => {
    const verdict = streamKidVerdict(BigInt(c.kid), c.stream_participant, c.stream_kind) ?? "accept";
    assert.equal(verdict, c.verdict);
  });
}
