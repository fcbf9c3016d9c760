/**
 * What this browser must have for an end-to-end encrypted call, checked before the page
 * does anything else: a browser that lacks one of them gets a message naming what is
 * missing and never enrolls, joins or sends media (no call with media outside the
 * transform). Tested in Firefox ESR with its script-transform pref turned off
 * (tests/browser/test_web_firefox.py).
 */

/** The names of the features this browser lacks (empty: it can make calls). */
export async function missingFeatures(): Promise<string[]> {
  const missing: string[] = [];
  if (typeof RTCPeerConnection !== "function") missing.push("WebRTC (RTCPeerConnection)");
  // encoded transforms in a worker: where SFrame encrypts and decrypts every frame
  if (!("RTCRtpScriptTransform" in window)) missing.push("RTCRtpScriptTransform (encoded transforms)");
  if (typeof Worker !== "function") missing.push("Web Workers");
  if (typeof indexedDB === "undefined") missing.push("IndexedDB (where the device key is kept)");
  if (!(await hasEd25519())) missing.push("Ed25519 in WebCrypto (the device key)");
  return missing;
}

/** A non-extractable Ed25519 key pair can be made and can sign (the device key). */
async function hasEd25519(): Promise<boolean> {
  try {
    const pair = await crypto.subtle.generateKey("Ed25519", false, ["sign", "verify"]) as CryptoKeyPair;
    await crypto.subtle.sign("Ed25519", pair.privateKey, new Uint8Array(1));
    return true;
  } catch {
    return false;
  }
}

/** The page's message for a browser that lacks ``missing``. */
export function unsupportedMessage(missing: readonly string[]): string {
  return `This browser cannot make end-to-end encrypted calls: it has no ${missing.join(", no ")}. ` +
    "Use a current Firefox, Chromium, Chrome, Edge or Safari.";
}
