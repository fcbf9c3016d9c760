/**
 * The page's path switching policy against protocol/conformance/path-switch.json (the
 * Python client's module runs the same file:
 * tests/unit/client/test_conformance_path_switch.py). Each timeline runs with the
 * module's own thresholds, so a threshold changed here alone fails.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { LABELS, PathPolicy, THRESHOLDS, type Path } from "../../src/media/pathswitch.js";
import { readJson } from "./support.js";

interface Step {
  readonly at: number;
  readonly event: string;
  readonly path?: Path;
  readonly state?: string;
  readonly expect?: Path | null;
  readonly reason?: string;
  readonly active?: Path;
}

interface Conformance {
  readonly thresholds: Record<string, number>;
  readonly timelines: readonly { readonly name: string; readonly prefer: Path; readonly steps: readonly Step[] }[];
}

const CONFORMANCE = readJson<Conformance>("protocol/conformance/path-switch.json");

test("the thresholds are the conformance file's", () => {
  assert.deepEqual({ ...THRESHOLDS }, CONFORMANCE.thresholds);
  assert.deepEqual(new PathPolicy().thresholds, THRESHOLDS);
  assert.deepEqual({ ...LABELS }, { sfu: "via SFU", direct: "direct" });
});

function apply(policy: PathPolicy, step: Step): void {
  switch (step.event) {
    case "connection": policy.connection(step.path!, step.state!, step.at); break;
    case "media": policy.media(step.path!, step.at); break;
    case "switched": policy.switched(step.path!, step.at); break;
    case "tick": break;
    default: assert.fail(`unknown event ${step.event}`);
  }
}

for (const timeline of CONFORMANCE.timelines) {
  test(timeline.name, () => {
    const policy = new PathPolicy(timeline.prefer);
    timeline.steps.forEach((step, i) => {
      apply(policy, step);
      const decision = policy.decide(step.at);
      const got = decision === null ? null : [decision.to, decision.reason];
      const want = (step.expect ?? null) === null ? null : [step.expect, step.reason];
      assert.deepEqual(got, want, `step ${i} (${JSON.stringify(step)})`);
      if (decision !== null) assert.ok(decision.text.length > 0);
      if (step.active !== undefined) assert.equal(policy.active, step.active, `step ${i}`);
    });
  });
}

test("the detail says how long it was silent", () => {
  const policy = new PathPolicy();
  policy.connection("direct", "connected", 0);
  policy.connection("sfu", "connected", 0);
  policy.media("direct", 1);
  assert.equal(policy.decide(2.5)?.text, "nothing from the far end direct for 1.5 s");
});
