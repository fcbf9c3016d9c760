/**
 * The browser's trust store (truststore.ts) kept in IndexedDB, next to the identity key
 * store (keystore.ts): database "hotline-trust" (or `<name>-trust`), object store "trust",
 * key "store", value: the JSON document (the same as Python's `<identity>.trust.json`).
 * A stored document that does not parse is an error, never silently replaced.
 */

import { DEFAULT_DATABASE } from "./keystore.js";
import { TrustStore } from "./truststore.js";

const STORE = "trust";
const KEY = "store";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

function open(database: string): Promise<IDBDatabase> {
  const req = indexedDB.open(`${database}-trust`, 1);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(STORE)) req.result.createObjectStore(STORE);
  };
  return request(req);
}

async function transact<T>(database: string, mode: IDBTransactionMode, body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open(database);
  try {
    const tx = db.transaction(STORE, mode);
    const done = new Promise<void>((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
      tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
    });
    const result = await request(body(tx.objectStore(STORE)));
    await done;
    return result;
  } finally {
    db.close();
  }
}

/** The stored trust store, or an empty one the first time. */
export async function loadTrust(database: string = DEFAULT_DATABASE): Promise<TrustStore> {
  const found: unknown = await transact(database, "readonly", (s) => s.get(KEY));
  return found === undefined ? new TrustStore() : TrustStore.fromJSON(found);
}

export async function saveTrust(store: TrustStore, database: string = DEFAULT_DATABASE): Promise<void> {
  await transact(database, "readwrite", (s) => s.put(store.toJSON(), KEY));
}
