/**
 * Where the page's code came from, which server it talks to, and the E2EE worker's code
 * checked against the page's own (Subresource Integrity).
 *
 * Two modes (README "Whose code runs in the page"):
 * - served by the server (`hotline serve`): `/app/config.json` is `{}`; the page talks to
 *   its own origin. The server chose every byte of this code; nothing here can check that.
 * - served by this machine (`hotline web --server URL`): the local command answers
 *   `/app/config.json` with `{"server": URL}`; the page talks signaling to that server only
 *   (its Content-Security-Policy allows no other connection), and no code of the server's
 *   runs in it.
 *
 * The bundle hash is the SHA-256 of `/app/manifest.txt` (written by the build, `sha256sum`
 * format); the page also checks that the manifest names the very script, stylesheet and
 * worker it runs (their integrity values), so the hash it shows is that of its own code.
 */

import { ProtocolError } from "../errors.js";

declare const HOTLINE_WORKER_INTEGRITY: string;

export interface Provenance {
  servedBy: "this machine" | "the server";
  /** The page's origin and the signaling server's (the same when served by the server). */
  page: string;
  server: string;
  /** "sha256:<hex>" of manifest.txt, or null if there is none. */
  bundle: string | null;
  /** The manifest lists the integrity values of the script, stylesheet and worker running. */
  consistent: boolean;
}

let server: string | null = null;
let workerBlob: string | null = null;

/** The signaling server's origin (call `loadProvenance` first). */
export function serverUrl(): string {
  if (server === null) throw new Error("the page's configuration is not loaded yet");
  return server;
}

/** The E2EE worker, checked against its integrity value (call `loadWorker` first). */
export function workerUrl(): string {
  if (workerBlob === null) throw new Error("the E2EE worker is not loaded yet");
  return workerBlob;
}

/** The server named by `hotline web` (an http(s) origin), else the page's own origin
 * (`hotline serve` answers `{}`). */
async function loadConfig(): Promise<{ server: string; local: boolean }> {
  const res = await fetch("/app/config.json", { cache: "no-store" });
  if (!res.ok) throw new ProtocolError(`/app/config.json: HTTP ${res.status}`);
  const config: unknown = await res.json();
  const value = typeof config === "object" && config !== null ? (config as Record<string, unknown>)["server"] : undefined;
  if (value === undefined) return { server: location.origin, local: false };
  let url: URL;
  try {
    url = new URL(typeof value === "string" ? value : "");
  } catch {
    throw new ProtocolError("/app/config.json names no server URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new ProtocolError(`/app/config.json: the server must be http(s), not ${url.protocol}`);
  }
  return { server: url.origin, local: url.origin !== location.origin };
}

const hex = (bytes: ArrayBuffer): string => Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, "0")).join("");

function sriOfHex(h: string): string {
  const bytes = new Uint8Array((h.match(/../g) ?? []).map((b) => parseInt(b, 16)));
  return "sha256-" + btoa(String.fromCharCode(...bytes));
}

/** The bundle hash and whether the manifest names the code that runs here. */
async function bundleHash(): Promise<{ bundle: string | null; consistent: boolean }> {
  const res = await fetch("/app/manifest.txt", { cache: "no-store" });
  if (!res.ok) return { bundle: null, consistent: false };
  const text = await res.arrayBuffer();
  const listed = new Map<string, string>();
  for (const line of new TextDecoder().decode(text).split("\n")) {
    const m = /^([0-9a-f]{64}) {2}([A-Za-z0-9._-]+)$/.exec(line);
    if (m !== null) listed.set(m[2] as string, sriOfHex(m[1] as string));
  }
  const running: [string, string | undefined][] = [
    ["main.js", document.querySelector<HTMLScriptElement>('script[src="/app/main.js"]')?.integrity],
    ["app.css", document.querySelector<HTMLLinkElement>('link[href="/app/app.css"]')?.integrity],
    ["transform-worker.js", typeof HOTLINE_WORKER_INTEGRITY === "string" ? HOTLINE_WORKER_INTEGRITY : undefined],
  ];
  const consistent = running.every(([name, sri]) => sri !== undefined && sri !== "" && listed.get(name) === sri);
  return { bundle: "sha256:" + hex(await crypto.subtle.digest("SHA-256", text)), consistent };
}

/** Fetch the worker with its integrity value; a worker with other bytes is refused. */
export async function loadWorker(): Promise<void> {
  if (typeof HOTLINE_WORKER_INTEGRITY !== "string") throw new Error("this build has no worker integrity value");
  let res: Response;
  try {
    res = await fetch("/app/transform-worker.js", { integrity: HOTLINE_WORKER_INTEGRITY, cache: "no-store" });
  } catch {
    throw new Error("The E2EE worker's code is not the code this page was built with (Subresource Integrity): refused.");
  }
  if (!res.ok) throw new Error(`The E2EE worker could not be loaded (HTTP ${res.status}).`);
  workerBlob = URL.createObjectURL(new Blob([await res.arrayBuffer()], { type: "text/javascript" }));
}

export async function loadProvenance(): Promise<Provenance> {
  const config = await loadConfig();
  server = config.server;
  const { bundle, consistent } = await bundleHash();
  return { servedBy: config.local ? "this machine" : "the server", page: location.origin, server: config.server, bundle, consistent };
}

/** The footer line: the code's hash and where it came from. */
export function describe(p: Provenance): string {
  const code = p.bundle === null ? "code: no manifest" : `code: ${p.bundle}${p.consistent ? "" : " (does NOT match the code running)"}`;
  return p.servedBy === "this machine"
    ? `${code} · served by this machine (${p.page}) · server: ${p.server}`
    : `${code} · served by the server (${p.page}): it chose this code; to run code you control, use \`hotline web\``;
}
