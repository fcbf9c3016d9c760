/**
 * How the page decides whom it seals keys to: a `TrustPolicy` over the device's
 * `TrustStore` (the twin of src/hotline/client/trustpolicy.py).
 *
 * `SignalingClient` asks `decide` for every roster member. The default policy (an empty
 * store) seals to no device this browser has not verified: such a member is listed as
 * unverified and gets no key until the user presses Accept (`SignalingClient.accept`).
 * A hotline's policy (`forHotline`) is strict: only the hotline's pins; any other key is
 * refused with `UntrustedKey` (an alarm), and the call or link test fails.
 */

import { fingerprint } from "../crypto/identity.js";
import { TrustStore, type Verdict } from "../crypto/truststore.js";
import { RemoteError, UsageError } from "../errors.js";

export interface Presented {
  readonly participantId: number;
  readonly party: string;
  readonly fingerprint: string;
  readonly verdict: Verdict;
  readonly hotline: string | null;
  readonly expected: readonly string[];
  readonly expectedParty: string;
}

export function pinMessage(p: Presented): string {
  if (p.verdict === "unpinned") {
    return `hotline '${p.hotline ?? ""}': no pin of the far party on this device; refusing ${p.party} device ${p.fingerprint}. Import the pin (verified out of band) in the hotline's card: "Pin the far party".`;
  }
  return `hotline '${p.hotline ?? ""}': ${p.party} presents device ${p.fingerprint}, which is NOT the pinned key of ${p.expectedParty} (expected ${p.expected.join(", ") || "-"}); refused, nothing sealed to it`;
}

/** A hotline's far end presented a key that is not pinned here (or there is no pin). */
export class UntrustedKey extends RemoteError {
  constructor(readonly presented: Presented) {
    super(pinMessage(presented));
  }
}

export class TrustPolicy {
  constructor(
    readonly store: TrustStore = new TrustStore(),
    private readonly options: { readonly hotline?: string; readonly save?: (store: TrustStore) => Promise<void> } = {},
  ) {}

  get hotline(): string | null {
    return this.options.hotline ?? null;
  }

  /** The strict policy of one hotline (same store). */
  forHotline(hotline: string): TrustPolicy {
    return new TrustPolicy(this.store, { ...this.options, hotline });
  }

  hasPin(hotline: string): boolean {
    return this.store.hotlines.has(hotline);
  }

  async decide(participantId: number, party: string, identityKey: Uint8Array, ownParty = ""): Promise<Presented> {
    const fp = await fingerprint(identityKey);
    const hotline = this.hotline;
    const verdict = this.store.evaluate(party, fp, hotline, ownParty);
    const pin = hotline === null ? undefined : this.store.hotlines.get(hotline);
    return { participantId, party, fingerprint: fp, verdict, hotline, expected: pin?.fingerprints ?? [], expectedParty: pin?.party ?? "" };
  }

  async accept(party: string, fp: string): Promise<void> {
    if (this.hotline !== null) throw new UsageError("a hotline trusts its pins only: import them in the hotline's card");
    this.store.setDevice(party, fp, "trusted", "accepted", new Date().toISOString());
    await this.save();
  }

  async refuse(party: string, fp: string): Promise<void> {
    this.store.setDevice(party, fp, "refused", "refused", new Date().toISOString());
    await this.save();
  }

  async pin(hotline: string, party: string, fingerprints: readonly string[]): Promise<void> {
    this.store.pin(hotline, party, fingerprints, new Date().toISOString());
    await this.save();
  }

  async save(): Promise<void> {
    await this.options.save?.(this.store);
  }
}
