/**
 * The browser's trust store (truststore.ts) kept in IndexedDB, next to the identity key
 * store (keystore.ts): database "hotline-trust" (or `<name>-trust`), object store "trust",
 * key "store", value: the JSON document (the same as Python's `<identity>.trust.json`).
 * A stored document that does not parse is an error, never silently replaced.
 */

import { withStore } from "./idb.js";
import { DEFAULT_DATABASE } from "./keystore.js";
import { TrustStore } from "./truststore.js";

const STORE = "trust";
const KEY = "store";

/** The stored trust store, or an empty one the first time. */
export async function loadTrust(database: string = DEFAULT_DATABASE): Promise<TrustStore> {
  const found: unknown = await withStore(`${database}-trust`, STORE, "readonly", (s) => s.get(KEY));
  return found === undefined ? new TrustStore() : TrustStore.fromJSON(found);
}

export async function saveTrust(store: TrustStore, database: string = DEFAULT_DATABASE): Promise<void> {
  await withStore(`${database}-trust`, STORE, "readwrite", (s) => s.put(store.toJSON(), KEY));
}
