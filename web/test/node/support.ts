/**
 * For the Node tests: files of the repository (conformance files, vectors), found from
 * HOTLINE_ROOT, which web/scripts/node-tests.mjs sets (a bundle no longer knows where its
 * sources were).
 */

import { readdirSync, readFileSync } from "node:fs";

declare const process: { readonly env: Readonly<Record<string, string | undefined>>; cwd(): string };

/** A path of the repository, from its root (e.g. "protocol/conformance/signaling"). */
export function repoPath(relative: string): string {
  const root = process.env.HOTLINE_ROOT ?? process.cwd();
  return `${root.replace(/\/+$/, "")}/${relative}`;
}

export function readJson<T>(relative: string): T {
  return JSON.parse(readFileSync(repoPath(relative), "utf8")) as T;
}

/** The .json files of a folder of the repository, sorted, as paths from the root. */
export function jsonFiles(folder: string): string[] {
  return readdirSync(repoPath(folder)).filter((f) => f.endsWith(".json")).sort().map((f) => `${folder}/${f}`);
}
