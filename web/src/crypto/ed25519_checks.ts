/**
 * Strict checks of Ed25519 encodings before a signature is verified (the twin of
 * src/hotline/crypto/ed25519_checks.py; same rules, same reason words, same vectors:
 * tests/vectors/ed25519-strict.json).
 *
 * WebCrypto in Chromium (BoringSSL) verifies cofactorless, like OpenSSL: it accepts a
 * small-order public key, so with the identity point as the key one signature verifies for
 * every message (measured by web/test/vectors.ts, reported as `library` in its summary).
 * Refused here, before WebCrypto is called, as libsodium does:
 * - a public key or a signature's R whose encoding is not canonical (y >= p, or x = 0 with
 *   the sign bit set), that is not a curve point, or that is of small order ([8]P is the
 *   identity: three doublings, RFC 8032 §5.1.4);
 * - a signature whose S is not below L.
 */

const P = (1n << 255n) - 19n;
export const ED25519_L = (1n << 252n) + 27742317777372353535851937790883648493n;
const Y_MASK = (1n << 255n) - 1n;

function mod(a: bigint): bigint {
  const r = a % P;
  return r < 0n ? r + P : r;
}

function pow(base: bigint, exponent: bigint): bigint {
  let result = 1n;
  let b = mod(base);
  let e = exponent;
  while (e > 0n) {
    if (e & 1n) result = (result * b) % P;
    b = (b * b) % P;
    e >>= 1n;
  }
  return result;
}

const D = mod(-121665n * pow(121666n, P - 2n));
const SQRT_M1 = pow(2n, (P - 1n) / 4n);

export type PointProblem = "length" | "non_canonical" | "not_a_point" | "small_order";
export type SignatureProblem = PointProblem | "s_out_of_range";

function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

/** The affine point of a canonical encoding (RFC 8032 §5.1.3), else null. */
function decode(y: bigint, sign: bigint): [bigint, bigint] | null {
  if (y >= P) return null;
  const u = mod(y * y - 1n);
  const v = mod(D * y * y + 1n);
  let x = mod(u * pow(v, 3n) % P * pow(u * pow(v, 7n), (P - 5n) / 8n));
  const vxx = mod(v * x * x);
  if (vxx === mod(-u)) x = (x * SQRT_M1) % P;
  else if (vxx !== u) return null;
  if (x === 0n && sign === 1n) return null;
  if ((x & 1n) !== sign) x = P - x;
  return [x, y];
}

function isSmallOrder(x0: bigint, y0: bigint): boolean {
  let [X, Y, Z] = [x0, y0, 1n];
  for (let i = 0; i < 3; i++) {
    const a = (X * X) % P;
    const b = (Y * Y) % P;
    const c = (2n * Z * Z) % P;
    const h = (a + b) % P;
    const e = mod(h - (X + Y) * (X + Y));
    const g = mod(a - b);
    const f = (c + g) % P;
    [X, Y, Z] = [(e * f) % P, (g * h) % P, (f * g) % P];
  }
  return X === 0n && Y === Z;
}

/** Why a 32-byte point encoding is refused, or null if it is acceptable. */
export function pointProblem(encoded: Uint8Array): PointProblem | null {
  if (encoded.length !== 32) return "length";
  const n = littleEndian(encoded);
  const y = n & Y_MASK;
  const sign = n >> 255n;
  if (y >= P) return "non_canonical";
  const point = decode(y, sign);
  if (point === null) {
    const flipped = decode(y, 0n);
    return flipped !== null && flipped[0] === 0n ? "non_canonical" : "not_a_point";
  }
  return isSmallOrder(point[0], point[1]) ? "small_order" : null;
}

/** Why an Ed25519 public key is refused, or null. */
export function publicKeyProblem(publicKey: Uint8Array): PointProblem | null {
  return pointProblem(publicKey);
}

/** Why a signature is refused before verification (R as a key; S < L), or null. */
export function signatureProblem(signature: Uint8Array): SignatureProblem | null {
  if (signature.length !== 64) return "length";
  if (littleEndian(signature.subarray(32)) >= ED25519_L) return "s_out_of_range";
  return pointProblem(signature.subarray(0, 32));
}
