/**
 * What a remote participant's tile shows of its media, read at every stats poll: its
 * receivers' stats (frames decoded, audio level) and what the worker decrypted or failed
 * to decrypt for it; and the problems the page lists (frames of someone else in its
 * stream, frames that fail to decrypt).
 */

import type { MediaE2EE, TransformCounters } from "../media/pipeline.js";
import type { Level } from "./audioout.js";
import { statMax, statSum } from "./quality.js";
import type { Tile } from "./tiles.js";
import { $, state } from "./view.js";

/** Failure reasons that do not mean "cannot decrypt" (an empty Opus payload). */
const BENIGN = new Set(["empty"]);
/** Frames of another participant (or kind) in a participant's stream: a swap, not a key problem. */
const WRONG_STREAM = new Set(["wrong_participant", "wrong_slot"]);

/** What the worker decrypted (out) and failed to decrypt for a participant, so far. */
export interface Decrypted {
  readonly out: number;
  readonly failed: number;
}

/** Read `tile`'s figures into its summary; its problems are added to `problems`.
 * `before` is what the previous poll returned; `unverified`: a member not verified here;
 * `heard`: its level as played here (audioout.ts; null: none of its audio is played). */
export async function readTile(tile: Tile, e2ee: MediaE2EE, byTransform: ReadonlyMap<string, TransformCounters>,
  before: Decrypted, unverified: boolean, problems: string[], heard: Level | null): Promise<Decrypted> {
  const s = tile.summary;
  if (tile.videoReceiver !== null) {
    const report = await tile.videoReceiver.getStats();
    s.framesDecoded = statSum(report, "inbound-rtp", "framesDecoded");
    s.framesReceived = statSum(report, "inbound-rtp", "framesReceived");
    s.frameWidth = statMax(report, "inbound-rtp", "frameWidth");
  }
  if (tile.audioReceiver !== null) {
    const report = await tile.audioReceiver.getStats();
    s.audioPacketsReceived = statSum(report, "inbound-rtp", "packetsReceived");
    s.audioSamplesReceived = statSum(report, "inbound-rtp", "totalSamplesReceived");
  }
  // measured on the decoded audio before the listener's gain: the receiver's stats read 0
  // while the tile's element is muted (the audio plays through WebAudio, audioout.ts)
  s.audioLevel = heard?.level ?? 0;
  if (heard !== null) s.audioEnergy = heard.energy;
  // what the worker decrypted (out) and failed to decrypt, for this participant
  let out = 0;
  let failed = 0;
  let wrongStream = 0;
  for (const receiver of [tile.videoReceiver, tile.audioReceiver]) {
    const id = receiver === null ? undefined : e2ee.transformOf(receiver);
    const c = id === undefined ? undefined : byTransform.get(id);
    if (c === undefined) continue;
    out += c.framesOut;
    for (const [reason, n] of Object.entries(c.failures)) {
      if (WRONG_STREAM.has(reason)) wrongStream += n;
      else if (!BENIGN.has(reason)) failed += n;
    }
  }
  s.decryptFailures = failed;
  s.wrongStream = wrongStream;
  if (wrongStream > 0) problems.push(`${wrongStream} frames of someone else arrived as ${s.name}'s and were dropped (never shown): the server swapped or relabelled streams.`);
  if (unverified) s.keys = "waiting"; // not verified here: its keys are refused, on purpose
  else if (failed > before.failed && out === before.out) s.keys = "failing";
  else if (out > before.out) s.keys = "ok"; // the worker decrypted (never trust the decoder alone)
  if (s.keys === "failing") problems.push(`Frames from ${s.name} fail to decrypt: wrong keys, or the media was altered on the way. Nothing undecrypted is shown.`);
  return { out, failed };
}

/** The list of problems under the call (hidden when empty). */
export function showProblems(problems: string[]): void {
  if (problems.join("\n") === state.problems.join("\n")) return;
  state.problems = problems;
  const list = $("problems");
  list.replaceChildren(...problems.map((p) => Object.assign(document.createElement("li"), { textContent: p })));
  list.hidden = problems.length === 0;
}
