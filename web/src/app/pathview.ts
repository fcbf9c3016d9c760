/**
 * Which path the call's media takes, where people see it: the element `#media-path`
 * ("via SFU", "direct"), a line in the page's path log (`#media-path-log`) and the
 * console for every change, and `state.mediaPath` for tests. Only the display; the
 * decision is media/pathswitch.ts, the connection app/directpath.ts.
 */

import { $, newPathSummary, state } from "./view.js";

/** Our media goes on `label` from now on, because of `reason`. */
export function showPath(label: string, reason: string): void {
  const s = state.mediaPath;
  if (s.label === label) return;
  const first = s.label === "";
  s.label = label;
  const change = { atMs: Math.round(performance.now()), label, reason };
  s.changes.push(change);
  $("media-path").textContent = label;
  const line = first ? `Media path: ${label}` : `Media path changed: now ${label} (${reason})`;
  const item = Object.assign(document.createElement("li"), { textContent: `${new Date().toISOString().slice(11, 19)} ${line}` });
  $("media-path-log").append(item);
  console.info(line);
}

export function showDirectState(connectionState: string): void {
  state.mediaPath.direct = connectionState;
}

/** The call ended: nothing shown. */
export function clearPath(): void {
  state.mediaPath = newPathSummary();
  $("media-path").textContent = "";
  $("media-path-log").replaceChildren();
}
