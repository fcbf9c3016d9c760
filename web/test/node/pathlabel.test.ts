/**
 * The page's media path labels and RTCConfiguration against
 * protocol/conformance/path-labels.json (the Python client runs the same file:
 * tests/unit/client/test_mediapath.py).
 */
import assert from "node:assert/strict";
import { test } from "node:test";

import { pathLabel, relayOnly, rtcConfiguration, type PathKind } from "../../src/app/pathlabel.js";
import { readJson } from "./support.js";

interface Case {
  readonly kind: PathKind;
  readonly local_type: string;
  readonly relay: string | null;
  readonly label: string;
}

test("path labels", () => {
  const file = readJson("protocol/conformance/path-labels.json") as { cases: Case[] };
  for (const c of file.cases) assert.equal(pathLabel(c.kind, c.local_type, c.relay), c.label, JSON.stringify(c));
});

test("the RTCConfiguration from ice_servers", () => {
  const server = { urls: ["turn:192.0.2.1:3478?transport=tcp"], username: "1:p1", credential: "c" };
  assert.deepEqual(rtcConfiguration([server], false), {
    iceServers: [{ urls: ["turn:192.0.2.1:3478?transport=tcp"], username: "1:p1", credential: "c" }],
    iceTransportPolicy: "all",
  });
  assert.equal(rtcConfiguration([server], true).iceTransportPolicy, "relay");
  assert.deepEqual(rtcConfiguration([], false), { iceServers: [], iceTransportPolicy: "all" });
  assert.throws(() => rtcConfiguration([], true), /no TURN server/);
  assert.equal(relayOnly("?relay=only"), true);
  assert.equal(relayOnly("?video=320x240"), false);
});
