/**
 * Hotline's browser E2EE core: the same bytes as src/hotline/crypto/ (docs/PROTOCOL.md),
 * on WebCrypto and @hpke/core. Pure: no DOM, no network; randomness from WebCrypto.
 */

export * from "./bytes.js";
export * from "./callkey.js";
export * from "./codes.gen.js";
export * from "./auth.js";
export * from "./ed25519_checks.js";
export * from "./errors.js";
export * from "./frames.js";
export * from "./groupcode.js";
export * from "./identity.js";
export * from "./keymessage.js";
export * from "./kid.js";
export * from "./phaseproof.js";
export * from "./replay.js";
export * from "./sframe.js";
export * from "./suites.js";
export * from "./wire.js";
export * from "./wordlist.js";
