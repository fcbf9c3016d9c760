/**
 * The key schedule's configuration, the events it takes and the actions it returns (the
 * rules: index.ts). Plain data, no behaviour beyond checks. Python: keyschedule/events.py.
 */

import { UsageError } from "../../errors.js";
import type { Bytes } from "../bytes.js";
import { ALL_KEMS, type Kem } from "../callkey.js";
import type { Reason } from "../errors.js";
import type { GroupCode } from "../groupcode.js";
import { type CipherSuite, DEFAULT_SUITE } from "../suites.js";

// -- configuration ----------------------------------------------------------------------

export interface KeyScheduleConfig {
  readonly roomId: string;
  readonly cipherSuite: CipherSuite;
  readonly rekeyInterval: number;
  readonly grace: number;
  readonly allowedKems: ReadonlySet<Kem>;
  readonly rekeyDeadline: number;
  readonly maxPending: number;
}

export type KeyScheduleOptions = Partial<KeyScheduleConfig> & { readonly roomId: string };

/** A configuration with Python's defaults, checked as KeyScheduleConfig.__post_init__. */
export function keyScheduleConfig(options: KeyScheduleOptions): KeyScheduleConfig {
  const config: KeyScheduleConfig = {
    cipherSuite: DEFAULT_SUITE,
    rekeyInterval: 600.0,
    grace: 1.0,
    allowedKems: ALL_KEMS,
    rekeyDeadline: 5.0,
    maxPending: 256,
    ...options,
  };
  if (!(config.rekeyInterval > 0) || !(config.grace >= 0 && config.grace <= config.rekeyInterval)) {
    throw new UsageError("need rekey_interval > 0 and 0 <= grace <= rekey_interval");
  }
  if (!(config.rekeyDeadline >= config.grace)) throw new UsageError("rekey_deadline must be at least the grace period");
  if (config.allowedKems.size === 0) throw new UsageError("a call must allow at least one KEM");
  if (!Number.isSafeInteger(config.maxPending) || config.maxPending < 1) throw new UsageError("max_pending must be positive");
  return config;
}

// -- events (inputs) --------------------------------------------------------------------

/** A roster entry from the server: id, identity key, encoded announcement, the party the
 * server says it belongs to (checked by the client's trust decision) and its role in the
 * room ("delegate" if absent; checked against the role its announcement signs:
 * `role_mismatch`). */
export interface Member {
  readonly participantId: number;
  readonly identityKey: Uint8Array;
  readonly announcement: Uint8Array;
  readonly party?: string;
  readonly role?: string;
}

/** Decides whether this device trusts a roster member (see the rules above). */
export type TrustDecision = (member: Member) => boolean | Promise<boolean>;

export interface Joined {
  readonly type: "joined";
  readonly now: number;
  readonly epoch: number;
  readonly participantId: number;
  readonly members: readonly Member[]; // everyone else already in the call
  readonly phase?: string; // the call's phase at my join ("open" if absent)
}

export interface MemberJoined {
  readonly type: "member_joined";
  readonly now: number;
  readonly epoch: number;
  readonly member: Member;
}

export interface MemberLeft {
  readonly type: "member_left";
  readonly now: number;
  readonly epoch: number;
  readonly participantId: number;
}

/** The call's phase is now `phase` (a roster event). A change from closed to open needs
 * `proof` (phaseproof.ts `signPhase`) by member `by` of my view whose signed role is
 * principal (0 or absent: the operator outside the call, who can only close). */
export interface PhaseChanged {
  readonly type: "phase_changed";
  readonly now: number;
  readonly epoch: number;
  readonly phase: string;
  readonly by?: number;
  readonly proof?: Uint8Array;
}

export interface TimerFired {
  readonly type: "timer_fired";
  readonly now: number;
}

export interface KeyMessageReceived {
  readonly type: "key_message_received";
  readonly now: number;
  readonly data: Uint8Array;
}

/** The user verified this member's device: seal to it from now on (a rekey). */
export interface PeerAccepted {
  readonly type: "peer_accepted";
  readonly now: number;
  readonly participantId: number;
}

export type KeyScheduleEvent = Joined | MemberJoined | MemberLeft | PhaseChanged | TimerFired | KeyMessageReceived | PeerAccepted;

// -- actions (outputs) ------------------------------------------------------------------

export interface SendKeyMessage {
  readonly type: "send_key_message";
  readonly recipient: number;
  readonly data: Bytes;
}

/** Send from now on with `baseKey` under `kids` (one per slot). */
export interface InstallEncryptionKey {
  readonly type: "install_encryption_key";
  readonly generation: number;
  readonly kids: readonly bigint[];
  readonly baseKey: Bytes;
}

export interface InstallDecryptionKey {
  readonly type: "install_decryption_key";
  readonly sender: number;
  readonly generation: number;
  readonly kids: readonly bigint[];
  readonly baseKey: Bytes;
}

/** Remove these KIDs (`sending`: from the encryption side). */
export interface RetireKeys {
  readonly type: "retire_keys";
  readonly kids: readonly bigint[];
  readonly sending: boolean;
}

export interface GroupCodeChanged {
  readonly type: "group_code_changed";
  readonly epoch: number;
  readonly code: GroupCode;
  readonly members: readonly number[];
}

/** A new epoch: its code is not known yet (show "verifying", never the old code). */
export interface GroupCodePending {
  readonly type: "group_code_pending";
  readonly epoch: number;
}

export interface MemberRejected {
  readonly type: "member_rejected";
  readonly participantId: number;
  readonly reason: Reason;
}

/** A change to `phase` at `epoch` asked by `by` was refused (`phase_unproven`: a reopen
 * without a valid proof of a principal): the schedule stayed in its phase. Raise an alarm:
 * the server claimed a reopen nobody entitled asked for. */
export interface PhaseRefused {
  readonly type: "phase_refused";
  readonly epoch: number;
  readonly phase: string;
  readonly by: number;
  readonly reason: Reason;
}

export type KeyScheduleAction =
  | SendKeyMessage | InstallEncryptionKey | InstallDecryptionKey | RetireKeys | GroupCodeChanged | GroupCodePending
  | MemberRejected | PhaseRefused;

/** What a test may compare before and after an event (no key material). */
export interface KeyScheduleSnapshot {
  readonly participantId: number | null;
  readonly epoch: number;
  readonly generation: number;
  readonly sendingKids: string[];
  readonly peers: { participantId: number; generation: number; kids: string[] }[];
  readonly retire: { at: number; kids: string[] }[];
  readonly owed: { participantId: number; at: number; generation: number }[];
  readonly pending: number[]; // epochs of waiting key messages
  readonly nextRekey: number | null;
  readonly code: string | null;
  readonly phase: string;
}
