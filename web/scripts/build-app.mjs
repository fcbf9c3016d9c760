// Builds the call page web/dist/app/ reproducibly and seals it (`npm run bundle:app`).
//
// 1. esbuild bundles the E2EE worker, then the page (main.ts), which carries the worker's
//    Subresource Integrity value (HOTLINE_WORKER_INTEGRITY): the page fetches the worker
//    with it and refuses a worker whose bytes differ.
// 2. index.html is written from src/app/index.html with an `integrity` attribute on the
//    script and the stylesheet and a Content-Security-Policy <meta> whose script-src is
//    the hash of main.js: a browser runs no other script, whoever serves the page.
// 3. manifest.txt lists every other file with its SHA-256, in `sha256sum` format, sorted
//    by name; the bundle hash is the SHA-256 of manifest.txt. It is printed here, shown in
//    the page ("code: ..."), and printed by `hotline web`.
//
// Reproducible: the same sources, lockfile and esbuild give byte-identical files (no
// timestamps; source maps hold paths relative to the output folder, never absolute ones).
// Usage: node scripts/build-app.mjs [outdir]   (default dist/app, relative to web/)

import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const WEB = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = resolve(WEB, process.argv[2] ?? "dist/app");
const MANIFEST = "manifest.txt";

const sha256 = (bytes) => createHash("sha256").update(bytes);
const sri = (file) => "sha256-" + sha256(readFileSync(join(OUT, file))).digest("base64");

/** The esbuild options every bundle of the page shares (no timestamps, no absolute paths). */
const common = {
  absWorkingDir: WEB,
  bundle: true,
  format: "esm",
  target: "chrome120",
  sourcemap: true,
  sourceRoot: "",
  charset: "utf8",
  legalComments: "inline",
  logLevel: "warning",
  outdir: OUT,
  entryNames: "[name]",
};

rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
await esbuild.build({ ...common, entryPoints: ["src/media/transform-worker.ts"],
  define: { HOTLINE_TEST_HOOKS: "false" } });
const worker = sri("transform-worker.js");
await esbuild.build({ ...common, entryPoints: ["src/app/main.ts"],
  define: { HOTLINE_TEST_HOOKS: "false", HOTLINE_WORKER_INTEGRITY: JSON.stringify(worker) } });
copyFileSync(join(WEB, "src/app/app.css"), join(OUT, "app.css"));

// The policy in the page itself holds whoever serves it; the servers add connect-src
// (which depends on the mode) and frame-ancestors (ignored in a <meta>) as a header.
const script = sri("main.js");
const style = sri("app.css");
const policy = `script-src '${script}'; worker-src blob:; style-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'`;
let page = readFileSync(join(WEB, "src/app/index.html"), "utf8");
const replacements = [
  ['<meta charset="utf-8">', `<meta charset="utf-8">\n<meta http-equiv="Content-Security-Policy" content="${policy}">`],
  ['<link rel="stylesheet" href="/app/app.css">', `<link rel="stylesheet" href="/app/app.css" integrity="${style}">`],
  ['<script type="module" src="/app/main.js"></script>', `<script type="module" src="/app/main.js" integrity="${script}"></script>`],
];
for (const [from, to] of replacements) {
  if (!page.includes(from)) throw new Error(`src/app/index.html has no ${from}`);
  page = page.replace(from, to);
}
writeFileSync(join(OUT, "index.html"), page);

const files = readdirSync(OUT).filter((f) => f !== MANIFEST).sort();
const manifest = files.map((f) => `${sha256(readFileSync(join(OUT, f))).digest("hex")}  ${f}\n`).join("");
writeFileSync(join(OUT, MANIFEST), manifest);
console.log(`${relative(WEB, OUT)} bundle sha256:${sha256(manifest).digest("hex")} (SHA-256 of ${MANIFEST}; ${files.length} files)`);
