/**
 * The group code in the call view, with its "verified" mark: set by the user after
 * reading the code aloud, reset when the code changes.
 */

import { $, setToggle, state } from "./view.js";

/** The code, or null while the epoch's code is pending ("verifying…"). */
export function showCode(code: { digits: string; words: string } | null): void {
  const wasVerified = state.verified;
  state.code = code;
  $("code-digits").textContent = code?.digits ?? "verifying…";
  $("code-words").textContent = code?.words ?? "";
  if (wasVerified) setVerified(false, true); // a new epoch's code must be checked again
}

/** The "verified" mark (`wasVerified`: it is cleared because the code changed). */
export function setVerified(verified: boolean, wasVerified = false): void {
  if (verified && state.code === null) return;
  state.verified = verified;
  setToggle("verify-button", verified, verified ? "Verified ✓" : "Mark as verified");
  $("verify-state").textContent = verified
    ? `You checked this code with everyone at ${new Date().toLocaleTimeString()}.`
    : wasVerified
      ? "The code changed (someone joined or left): read it aloud and verify again."
      : "Not verified yet: read the code aloud; everyone must see the same.";
  $("group-code").classList.toggle("verified", verified);
}
