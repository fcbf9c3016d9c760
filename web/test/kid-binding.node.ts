/**
 * The KID-to-stream binding rule (src/crypto/kid.ts streamKidVerdict) on the conformance
 * cases of tests/vectors/kid-binding.json, in Node. Bundled by `make web` to
 * dist/test/kid-binding.node.mjs; tests/unit/test_kid_binding.py runs it with the JSON
 * file's path and compares its output (one verdict per case, in order) with the file and
 * with Python's verdicts.
 *
 *     node web/dist/test/kid-binding.node.mjs tests/vectors/kid-binding.json
 */

import { streamKidVerdict } from "../src/crypto/kid.js";

interface Case {
  readonly stream_participant: number;
  readonly stream_kind: string;
  readonly kid: string;
}

// Node's globals, declared here (the project's TypeScript has the DOM lib, not Node's).
declare const process: { readonly argv: readonly string[]; stdout: { write(text: string): void } };

async function main(): Promise<void> {
  const path = process.argv[2];
  if (path === undefined) throw new Error("usage: kid-binding.node.mjs <kid-binding.json>");
  const fs = (await import("node:fs" as string)) as { readFileSync(p: string, e: string): string };
  const doc = JSON.parse(fs.readFileSync(path, "utf8")) as { cases: Case[] };
  const verdicts = doc.cases.map((c) => streamKidVerdict(BigInt(c.kid), c.stream_participant, c.stream_kind) ?? "accept");
  process.stdout.write(JSON.stringify(verdicts) + "\n");
}

void main();
