/**
 * The uptime-record heads this browser's standby knows (src/hotline/client/hotline/recordhead.py
 * is the terminal's), in IndexedDB: database "hotline-record", object store "heads", one
 * record per hotline in the JSON form of chainwatch.ts. A database of its own, so the
 * identity's database (keystore.ts) is left as it is.
 */

import { type KnownChain, chainFromJson, chainToJson, emptyChain } from "../crypto/chainwatch.js";
import { withStore } from "../crypto/idb.js";

const DATABASE = "hotline-record";
const STORE = "heads";

/** The head known for `hotline` (a fresh one the first time). An unreadable record
 * throws: never start over silently. */
export async function loadHead(hotline: string): Promise<KnownChain> {
  const found: unknown = await withStore(DATABASE, STORE, "readonly", (s) => s.get(hotline));
  return found === undefined ? emptyChain() : chainFromJson(found);
}

export async function saveHead(hotline: string, known: KnownChain): Promise<void> {
  await withStore(DATABASE, STORE, "readwrite", (s) => s.put(chainToJson(known), hotline));
}
