/**
 * The page's media-restart policy against protocol/conformance/media-restart.json (the
 * Python client's module runs the same file: tests/unit/client/test_conformance_media_restart.py). Each
 * timeline runs with the module's own thresholds, so a threshold changed here alone fails.
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { MediaRestartPolicy, THRESHOLDS, type Connection } from "../../src/media/mediarestart.js";
import { readJson } from "./support.js";

interface Step {
  readonly at: number;
  readonly event: string;
  readonly connection?: Connection;
  readonly state?: string;
  readonly last?: boolean;
  readonly expect?: string | null;
}

interface Conformance {
  readonly thresholds: Record<string, number>;
  readonly timelines: readonly { readonly name: string; readonly steps: readonly Step[] }[];
}

const CONFORMANCE = readJson<Conformance>("protocol/conformance/media-restart.json");

test("the thresholds are the conformance file's", () => {
  assert.deepEqual({ ...THRESHOLDS }, CONFORMANCE.thresholds);
  assert.deepEqual(new MediaRestartPolicy().thresholds, THRESHOLDS);
});

function apply(policy: MediaRestartPolicy, step: Step): void {
  const at = step.at;
  switch (step.event) {
    case "start": policy.start(at); break;
    case "connection": policy.connection(step.connection!, step.state!, at); break;
    case "media": policy.media(step.connection!, at); break;
    case "address_change": policy.addressChange(); break;
    case "restart": policy.restart(at); break;
    case "restart_sent": policy.restartSent(at); break;
    case "restarted": assert.equal(policy.restarted(at), step.last); break;
    case "tick": break;
    default: assert.fail(`unknown event ${step.event}`);
  }
}

for (const timeline of CONFORMANCE.timelines) {
  test(timeline.name, () => {
    const policy = new MediaRestartPolicy(); // its own thresholds: a changed one fails here too
    timeline.steps.forEach((step, i) => {
      apply(policy, step);
      const decision = policy.decide(step.at);
      assert.equal(decision?.reason ?? null, step.expect ?? null, `step ${i} (${JSON.stringify(step)})`);
      if (decision !== null) assert.ok(decision.text.length > 0);
    });
  });
}

test("the detail says how long it was silent", () => {
  const policy = new MediaRestartPolicy();
  policy.start(0);
  policy.connection("publish", "new", 0);
  policy.connection("publish", "connected", 1);
  policy.media("publish", 2);
  policy.media("publish", 1.5); // an older time changes nothing
  assert.equal(policy.decide(5.5)?.text, "nothing received for 3.5 s");
});
