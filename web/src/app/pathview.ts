/**
 * Which path the call's media takes, where people see it: the element `#media-path`
 * ("via SFU", "relay over UDP|TCP|TLS", "direct"), a line in the page's path log
 * (`#media-path-log`) and the console for every change, and `state.mediaPath` for tests.
 * Only the display: which path is active is media/pathswitch.ts's decision (the direct
 * connection: app/directpath.ts); how the SFU connection goes (directly or through TURN)
 * comes from its stats (app/mediapath.ts).
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

/** The SFU connection's own label ("via SFU", "relay over TCP", from its stats): shown
 * unless the direct path carries our media. */
export function showSfuLabel(label: string): void {
  state.mediaPath.sfuLabel = label;
  if (state.mediaPath.active !== "direct") showPath(label, "the connection to the SFU changed");
}

/** Our media goes on `path` from now on (the path policy's choice), because of `reason`. */
export function showActivePath(path: "sfu" | "direct", reason: string): void {
  state.mediaPath.active = path;
  // the SFU path's label comes from its connection's stats (showSfuLabel) once known
  const label = path === "sfu" ? state.mediaPath.sfuLabel : "direct";
  if (label !== "") showPath(label, reason);
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
