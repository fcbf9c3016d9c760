/**
 * The page's side of the trust store (issue #12, items 1-2):
 *
 * - the policy every connection of the page uses (`trust.policy`: the store kept in
 *   IndexedDB, trustdb.ts);
 * - in a call, a member this browser has not verified (a new party, a new device of a
 *   known party) is marked UNVERIFIED on its tile and in the participant list, with a
 *   "new device" warning like a safety-number change, its fingerprint, and Accept /
 *   Refuse. It receives no key from this browser until accepted (then a rekey gives it a
 *   fresh one); refused, it stays at zero keys and is remembered;
 * - for a hotline: a form to import the far party's pinned fingerprints (pasted, checked
 *   out of band), and a loud alarm when a far end presents a key that is not pinned.
 */

import { loadTrust, saveTrust } from "../crypto/trustdb.js";
import type { SignalingClient } from "../protocol/signaling.js";
import { type Presented, TrustPolicy } from "../protocol/trust.js";
import { parseFingerprints } from "../crypto/truststore.js";
import { $, message } from "./view.js";

export const trust = { policy: new TrustPolicy() };

export interface TrustSummary {
  /** Members of the current call this browser has not verified, by participant id. */
  unverified: Record<string, { party: string; fingerprint: string; verdict: string }>;
  /** Alarms raised (a hotline key that is not pinned). */
  alarms: string[];
  /** The hotline pins of this browser. */
  pins: Record<string, { party: string; fingerprints: string[] }>;
}

export const trustState: TrustSummary = { unverified: {}, alarms: [], pins: {} };
(window as unknown as { hotlineTrust: TrustSummary }).hotlineTrust = trustState;

/** Load the browser's trust store (once, at start). */
export async function loadPolicy(): Promise<void> {
  trust.policy = new TrustPolicy(await loadTrust(), { save: (s) => saveTrust(s) });
  syncPins();
}

function syncPins(): void {
  trustState.pins = Object.fromEntries([...trust.policy.store.hotlines].map(([h, p]) => [h, { party: p.party, fingerprints: [...p.fingerprints] }]));
}

/** A loud alarm: a red line above the hotline notices that stays (later notices do not
 * replace it), the summary and the console. */
export function alarm(text: string): void {
  trustState.alarms.push(text);
  console.error(`ALARM ${text}`);
  let line = document.getElementById("trust-alarm");
  if (line === null) {
    line = document.createElement("p");
    line.id = "trust-alarm";
    line.className = "alarm";
    line.setAttribute("role", "alert");
    $("hotline-notice").before(line);
  }
  line.textContent = `⚠ ALARM: ${text}`;
}

const LABELS: Record<string, string> = {
  new_party: "New party", new_device: "New device", changed: "Key known as another party", refused: "Refused device",
};

/** Mark participant `p` unverified on its tile and its participant line, with Accept and
 * Refuse; `null` clears the mark (accepted). */
export function showTrust(client: SignalingClient, pid: number, p: Presented | null, tile: HTMLElement | null): void {
  const line = document.getElementById(`participant-${pid}`);
  tile?.querySelector(".trust-warning")?.remove();
  line?.querySelector(".trust")?.remove();
  tile?.classList.toggle("unverified", p !== null);
  if (p === null) {
    delete trustState.unverified[String(pid)];
    return;
  }
  trustState.unverified[String(pid)] = { party: p.party, fingerprint: p.fingerprint, verdict: p.verdict };
  if (line !== null) {
    const mark = document.createElement("span");
    mark.className = "trust";
    mark.textContent = ` · UNVERIFIED (${(LABELS[p.verdict] ?? p.verdict).toLowerCase()})`;
    line.append(mark);
  }
  if (tile === null) return;
  const box = document.createElement("div");
  box.className = "trust-warning";
  box.setAttribute("role", "alert");
  const title = document.createElement("strong");
  title.textContent = `${LABELS[p.verdict] ?? p.verdict}: ${p.party}`;
  const text = document.createElement("p");
  text.textContent = p.verdict === "refused"
    ? `You refused this device (${p.fingerprint}). It receives no key from you.`
    : `This device is not verified by this browser and receives no key from you. Compare its fingerprint with ${p.party} over another channel (phone, in person) before accepting: ${p.fingerprint}`;
  box.append(title, text);
  if (p.verdict !== "refused") {
    const accept = document.createElement("button");
    accept.type = "button";
    accept.className = "trust-accept";
    accept.textContent = "Accept";
    const refuse = document.createElement("button");
    refuse.type = "button";
    refuse.className = "trust-refuse";
    refuse.textContent = "Refuse";
    accept.addEventListener("click", () => void client.accept(pid).catch((e: unknown) => alarm(`accept failed: ${message(e)}`)));
    refuse.addEventListener("click", () => void client.refuse(pid).catch((e: unknown) => alarm(`refuse failed: ${message(e)}`)));
    box.append(accept, " ", refuse);
  }
  tile.append(box);
}

/** A hotline card's pin section: the pins of this browser and a form to import them. */
export function pinSection(hotline: string, far: string, changed: () => void): HTMLElement {
  const section = document.createElement("div");
  section.className = "pins";
  const pin = trust.policy.store.hotlines.get(hotline);
  const current = document.createElement("p");
  current.className = pin === undefined ? "pin-missing" : "pin-current";
  current.textContent = pin === undefined
    ? `No pin of ${far} in this browser: link tests and calls of ${hotline} are refused here until you import it.`
    : `Pinned in this browser: ${pin.party} ${pin.fingerprints.join(", ")}`;
  const form = document.createElement("form");
  form.className = "pin-form";
  const label = document.createElement("label");
  label.textContent = `Pin ${far}'s devices (fingerprints from your operator's "hotline admin hotline add", checked out of band): `;
  const input = document.createElement("input");
  input.name = "fingerprints";
  input.placeholder = "xxxx xxxx xxxx xxxx xxxx xxxx xxxx xxxx, …";
  input.size = 48;
  label.append(input);
  const submit = document.createElement("button");
  submit.type = "submit";
  submit.textContent = pin === undefined ? "Import pin" : "Replace pin";
  const result = document.createElement("span");
  result.className = "pin-result";
  result.setAttribute("role", "status");
  form.append(label, " ", submit, " ", result);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void (async () => {
      try {
        await trust.policy.pin(hotline, far, parseFingerprints(input.value));
        syncPins();
        changed();
      } catch (error) {
        result.textContent = message(error);
      }
    })();
  });
  section.append(current, form);
  return section;
}
