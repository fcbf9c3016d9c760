/**
 * Signaling conformance (protocol/conformance/signaling/*.json): every message each
 * receiver must accept or refuse, run against the page's parsers (parseServer, and
 * parseClient for what the server must refuse). Python runs the same files in
 * tests/unit/signaling/test_conformance_signaling.py.
 */

import assert from "node:assert/strict";
import { test } from "node:test";
import { ProtocolError } from "../../src/errors.js";
import { b64encode, parseClient, parseServer } from "../../src/protocol/messages.js";
import { jsonFiles, readJson, repoPath } from "./support.js";

type Fill = Record<string, { readonly char: string; readonly length: number }>;
type Doc = Record<string, unknown>;

interface Case {
  readonly name: string;
  readonly valid: boolean;
  readonly message?: Doc;
  readonly text?: string;
  readonly fill?: Fill;
  readonly repeat?: { readonly text: string; readonly times: number };
  readonly expect?: Doc;
}

interface File {
  readonly description: string;
  readonly version: number;
  readonly direction: "client_to_server" | "server_to_client" | "both";
  readonly cases: readonly Case[];
}

const PARSERS: Record<File["direction"], ((text: string) => object)[]> = {
  client_to_server: [parseClient],
  server_to_client: [parseServer],
  both: [parseClient, parseServer],
};

function filled(doc: Doc, fill: Fill = {}): Doc {
  return { ...doc, ...Object.fromEntries(Object.entries(fill).map(([k, f]) => [k, f.char.repeat(f.length)])) };
}

function text(c: Case): string {
  if (c.repeat !== undefined) return c.repeat.text.repeat(c.repeat.times);
  if (c.text !== undefined) return c.text;
  return JSON.stringify(filled(c.message ?? {}, c.fill));
}

/** A parsed message as JSON again (bytes as base64url), as Python's encode writes it. */
function asJson(value: unknown): unknown {
  if (value instanceof Uint8Array) return b64encode(value);
  if (Array.isArray(value)) return value.map(asJson);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, asJson(v)]));
  }
  return value;
}

const FOLDER = "protocol/conformance/signaling";
const files = jsonFiles(FOLDER);

test("the conformance files are there and tell 1.0 from 1", () => {
  assert.ok(files.length > 0, `no files in ${repoPath(FOLDER)}`);
  // Chromium gives the JSON reviver the source text; Node 20 only with a flag (the runner's).
  let source: unknown;
  JSON.parse("1.0", (_k: string, v: unknown, context?: { source?: string }) => ((source = context?.source), v));
  assert.equal(source, "1.0", "run with web/scripts/node-tests.mjs (--harmony-json-parse-with-source)");
});

for (const path of files) {
  const file = readJson<File>(path);
  for (const c of file.cases) {
    test(`${path.slice(FOLDER.length + 1)}: ${c.name}`, () => {
      assert.ok(file.version === 1 && file.description.length > 0);
      const input = text(c);
      for (const parse of PARSERS[file.direction]) {
        if (!c.valid) {
          assert.throws(() => parse(input), ProtocolError);
          continue;
        }
        const message = parse(input);
        assert.deepEqual(asJson({ v: 1, ...message }), filled(c.expect ?? c.message ?? {}, c.fill));
      }
    });
  }
}
