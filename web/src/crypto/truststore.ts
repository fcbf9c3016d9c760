/**
 * The device's own trust store: whom this browser seals keys to (issue #12, items 1-2).
 * The browser twin of src/hotline/client/trust.py: the same data model, the same JSON
 * document, the same verdicts; both run tests/vectors/trust-v1.json.
 *
 * - per party: device fingerprints, each `trusted` or `refused`, with how it got there
 *   (`source`: a hotline pin, accepted by the user);
 * - per hotline: the far party and its pinned fingerprints, imported out of band (pasted
 *   in the page). Strict: for that hotline nothing else is ever accepted.
 *
 * Pure: no I/O (trustdb.ts keeps the document in IndexedDB).
 */

import { UsageError } from "../errors.js";

export const TRUST_VERSION = 1;
const HEX32 = /^[0-9a-f]{32}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MAX_DEVICES = 1000;

export type Verdict = "trusted" | "new_party" | "new_device" | "changed" | "refused" | "unpinned";
export type DeviceState = "trusted" | "refused";

export interface Device {
  state: DeviceState;
  source: string;
  since: string;
}

export interface HotlinePin {
  party: string;
  fingerprints: string[];
  since: string;
}

/** The stored document (the same as Python's `<identity>.trust.json`). */
export interface TrustDocument {
  version: number;
  parties: Record<string, { devices: Record<string, Device> }>;
  hotlines: Record<string, HotlinePin>;
}

/** `fingerprint` as identity.ts prints it (8 groups of 4 lower-case hex digits); spaces,
 * colons and case are ignored. Throws UsageError for anything else. */
export function canonical(fingerprint: string): string {
  const compact = fingerprint.replace(/[\s:]/g, "").toLowerCase();
  if (!HEX32.test(compact)) throw new UsageError(`not a device fingerprint (32 hex digits): ${JSON.stringify(fingerprint.slice(0, 80))}`);
  return compact.match(/.{4}/g)!.join(" ");
}

function checkName(kind: string, name: string): string {
  if (!NAME.test(name)) throw new UsageError(`not a ${kind} name: ${JSON.stringify(name.slice(0, 80))}`);
  return name;
}

export class TrustStore {
  readonly parties = new Map<string, Map<string, Device>>();
  readonly hotlines = new Map<string, HotlinePin>();

  evaluate(party: string, fingerprint: string, hotline: string | null = null, ownParty = ""): Verdict {
    return evaluate(this, party, fingerprint, hotline, ownParty);
  }

  setDevice(party: string, fingerprint: string, state: DeviceState, source: string, since = ""): void {
    checkName("party", party);
    const fp = canonical(fingerprint);
    let devices = this.parties.get(party);
    if (devices === undefined) {
      devices = new Map();
      this.parties.set(party, devices);
    }
    if (!devices.has(fp) && devices.size >= MAX_DEVICES) throw new UsageError(`too many devices of ${party}`);
    devices.set(fp, { state, source: source.slice(0, 100), since });
  }

  /** Pin `party`'s devices for `hotline` (replacing the earlier pin); they are trusted
   * devices of `party` too. */
  pin(hotline: string, party: string, fingerprints: readonly string[], since = ""): void {
    const fps = [...new Set(fingerprints.map(canonical))].sort();
    if (fps.length === 0) throw new UsageError("a pin needs at least one fingerprint");
    checkName("hotline", hotline);
    checkName("party", party);
    this.hotlines.set(hotline, { party, fingerprints: fps, since });
    for (const fp of fps) this.setDevice(party, fp, "trusted", `hotline pin ${hotline}`, since);
  }

  unpin(hotline: string): boolean {
    return this.hotlines.delete(hotline);
  }

  toJSON(): TrustDocument {
    const parties: TrustDocument["parties"] = {};
    for (const [p, ds] of [...this.parties].sort(([a], [b]) => (a < b ? -1 : 1))) {
      parties[p] = { devices: Object.fromEntries([...ds].sort(([a], [b]) => (a < b ? -1 : 1)).map(([fp, d]) => [fp, { ...d }])) };
    }
    const hotlines: TrustDocument["hotlines"] = {};
    for (const [h, pin] of [...this.hotlines].sort(([a], [b]) => (a < b ? -1 : 1))) {
      hotlines[h] = { party: pin.party, fingerprints: [...pin.fingerprints], since: pin.since };
    }
    return { version: TRUST_VERSION, parties, hotlines };
  }

  /** Parse a stored document; throws UsageError for anything malformed. */
  static fromJSON(doc: unknown): TrustStore {
    try {
      return TrustStore.parse(doc);
    } catch (error) {
      throw new UsageError(`trust store is malformed: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private static parse(doc: unknown): TrustStore {
    const obj = (x: unknown, what: string): Record<string, unknown> => {
      if (typeof x !== "object" || x === null || Array.isArray(x)) throw new TypeError(`${what} must be an object`);
      return x as Record<string, unknown>;
    };
    const d = obj(doc, "the document");
    if (d["version"] !== TRUST_VERSION) throw new TypeError(`need version ${TRUST_VERSION}`);
    const store = new TrustStore();
    for (const [party, entry] of Object.entries(obj(d["parties"] ?? {}, "parties"))) {
      for (const [fp, dev] of Object.entries(obj(obj(entry, "a party")["devices"], "devices"))) {
        const device = obj(dev, "a device");
        const state = device["state"];
        if (state !== "trusted" && state !== "refused") throw new TypeError("bad device state");
        store.setDevice(party, fp, state, String(device["source"] ?? ""), String(device["since"] ?? ""));
      }
    }
    for (const [name, value] of Object.entries(obj(d["hotlines"] ?? {}, "hotlines"))) {
      const pin = obj(value, "a pin");
      const fps = pin["fingerprints"];
      if (!Array.isArray(fps)) throw new TypeError("fingerprints must be a list");
      store.hotlines.set(checkName("hotline", name), {
        party: checkName("party", String(pin["party"])),
        fingerprints: [...new Set(fps.map((f) => canonical(String(f))))].sort(),
        since: String(pin["since"] ?? ""),
      });
    }
    return store;
  }
}

/**
 * The verdict on device `fingerprint` presented as a member of `party` (as Python's
 * `evaluate`). In a hotline's call or link test (`hotline` given) only its pins count: no
 * pin is "unpinned", another party or a key not pinned is "changed". In a room: the party's
 * record decides; a key trusted under another party is "changed" (relabelled); an unknown
 * device of `ownParty` is a new device, not a new party.
 */
export function evaluate(store: TrustStore, party: string, fingerprint: string, hotline: string | null = null, ownParty = ""): Verdict {
  const fp = canonical(fingerprint);
  if (hotline !== null) {
    const pin = store.hotlines.get(hotline);
    if (pin === undefined) return "unpinned";
    return party === pin.party && pin.fingerprints.includes(fp) ? "trusted" : "changed";
  }
  const devices = store.parties.get(party);
  const device = devices?.get(fp);
  if (device !== undefined) return device.state === "trusted" ? "trusted" : "refused";
  for (const [p, ds] of store.parties) {
    if (p !== party && ds.get(fp)?.state === "trusted") return "changed";
  }
  return (devices !== undefined && devices.size > 0) || (party !== "" && party === ownParty) ? "new_device" : "new_party";
}

/** The fingerprints in a pasted text (one or more, separated by commas, new lines or
 * spaces between 32-digit groups): what the page's pin import reads. */
export function parseFingerprints(text: string): string[] {
  const compact = text.toLowerCase().replace(/[\s:]/g, (c) => (c === "\n" ? "," : ""));
  const parts = compact.split(/[,;]+/).filter((p) => p.length > 0);
  const out: string[] = [];
  for (const part of parts) {
    if (part.length % 32 !== 0) throw new UsageError(`not a device fingerprint (32 hex digits): ${JSON.stringify(part.slice(0, 80))}`);
    for (let i = 0; i < part.length; i += 32) out.push(canonical(part.slice(i, i + 32)));
  }
  if (out.length === 0) throw new UsageError("no fingerprint given");
  return out;
}
