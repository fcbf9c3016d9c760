// The TypeScript tests that need no browser: bundles each web/test/node/*.test.ts with
// esbuild to web/dist/node-test/*.test.mjs and runs them with Node's test runner.
//
//     node scripts/node-tests.mjs [NAME...]   # (from web/) all tests, or those whose file
//                                             # name contains one of the NAMEs
//
// HOTLINE_ROOT (default: the repository) is where a test finds protocol/ and tests/vectors/.
// The JSON reviver's source text (the page's parser tells 1.0 from 1 with it, as Chromium
// does) is behind a flag in Node 20: the tests run with it where Node needs it.

import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const TESTS = join(WEB, "test", "node");
const OUT = join(WEB, "dist", "node-test");
let source;
JSON.parse("1.0", (_key, value, context) => ((source = context?.source), value));
const NODE_FLAGS = source === "1.0" ? [] : ["--harmony-json-parse-with-source"];

const names = process.argv.slice(2);
const files = readdirSync(TESTS)
  .filter((f) => f.endsWith(".test.ts") && (names.length === 0 || names.some((n) => f.includes(n))))
  .sort();
if (files.length === 0) {
  console.error(`error: no test in ${TESTS}${names.length ? ` matches ${names.join(", ")}` : ""}`);
  process.exit(1);
}

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
const outputs = [];
for (const file of files) {
  const outfile = join(OUT, basename(file, ".ts") + ".mjs");
  await build({
    entryPoints: [join(TESTS, file)], outfile, bundle: true, platform: "node", format: "esm",
    target: "node20", sourcemap: "inline", logLevel: "warning",
  });
  outputs.push(outfile);
}

const env = { ...process.env, HOTLINE_ROOT: process.env.HOTLINE_ROOT ?? resolve(WEB, "..") };
const run = spawnSync(process.execPath, [...NODE_FLAGS, "--test", ...outputs], { stdio: "inherit", env });
process.exit(run.status ?? 1);
