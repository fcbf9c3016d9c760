/**
 * Crypto errors of the browser client, mirroring src/hotline/errors.py.
 *
 *     CryptoError            any cryptographic failure; opaque on purpose
 *     ├── SFrameError        SFrame encrypt/decrypt (RFC 9605)
 *     ├── KeyMessageError    a sender-key message was rejected
 *     ├── AnnouncementError  a call-key announcement was rejected
 *     └── IdentityError      an identity key could not be made or used
 *
 * A message is the fixed reason code, optionally followed by a short non-secret detail
 * (a suite number, a field name); never key material, plaintext or ciphertext.
 * Callers tell cases apart by `reason`. Wrong arguments from our own code (a negative
 * participant id, a seed of the wrong size) are `RangeError`s, like Python's ValueError.
 */

/** The reason codes of Python's `hotline.errors.Reason`, with the same values. */
export const Reason = {
  // SFrame
  MALFORMED_HEADER: "malformed_header",
  TRUNCATED: "truncated",
  UNKNOWN_KID: "unknown_kid",
  AUTH_FAILED: "auth_failed",
  REPLAYED: "replayed",
  TOO_OLD: "too_old",
  COUNTER_EXHAUSTED: "counter_exhausted",
  COUNTER_REUSED: "counter_reused",
  UNSUPPORTED_SUITE: "unsupported_suite",
  BAD_KEY: "bad_key",
  // signed messages
  MALFORMED: "malformed",
  BAD_SIGNATURE: "bad_signature",
  WRONG_ROOM: "wrong_room",
  WRONG_RECIPIENT: "wrong_recipient",
  UNKNOWN_SENDER: "unknown_sender",
  STALE: "stale",
  BINDING: "binding",
  POLICY: "policy",
  ROLE_MISMATCH: "role_mismatch", // the signed role differs from the roster's
  PHASE_UNPROVEN: "phase_unproven", // a reopen without a valid principal's proof
  // identity keys
  FILE: "file",
  PERMISSIONS: "permissions",
  PASSPHRASE: "passphrase",
  WEAK_KEY: "weak_key",
} as const;

export type Reason = (typeof Reason)[keyof typeof Reason];

export class CryptoError extends Error {
  readonly reason: Reason;
  readonly detail: string;

  constructor(reason: Reason, detail = "") {
    super(detail ? `${reason}: ${detail}` : reason);
    this.name = new.target.name;
    this.reason = reason;
    this.detail = detail;
  }
}

/** Any SFrame failure: unknown KID, bad tag, malformed or truncated header, replay,
 * counter exhausted or reused. Frames that raise this are dropped. */
export class SFrameError extends CryptoError {}

/** A sender-key message failed its parsing, signature, binding or decryption. */
export class KeyMessageError extends CryptoError {}

/** A call-key announcement failed its parsing, signature, binding or policy check. */
export class AnnouncementError extends CryptoError {}

/** An identity key could not be imported or used. */
export class IdentityError extends CryptoError {}

/** The constructor of one of the classes above (what a parser raises). */
export type CryptoErrorClass = new (reason: Reason, detail?: string) => CryptoError;
