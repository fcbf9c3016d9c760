/**
 * The uptime-record heads this browser's standby knows (src/hotline/client/recordhead.py
 * is the terminal's), in IndexedDB: database "hotline-record", object store "heads", one
 * record per hotline in the JSON form of chainwatch.ts. A database of its own, so the
 * identity's database (keystore.ts) is left as it is.
 */

import { type KnownChain, chainFromJson, chainToJson, emptyChain } from "../crypto/chainwatch.js";

const DATABASE = "hotline-record";
const STORE = "heads";

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

async function withStore<T>(mode: IDBTransactionMode, body: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const open = indexedDB.open(DATABASE, 1);
  open.onupgradeneeded = () => {
    if (!open.result.objectStoreNames.contains(STORE)) open.result.createObjectStore(STORE);
  };
  const db = await request(open);
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

/** The head known for `hotline` (a fresh one the first time). An unreadable record
 * throws: never start over silently. */
export async function loadHead(hotline: string): Promise<KnownChain> {
  const found: unknown = await withStore("readonly", (s) => s.get(hotline));
  return found === undefined ? emptyChain() : chainFromJson(found);
}

export async function saveHead(hotline: string, known: KnownChain): Promise<void> {
  await withStore("readwrite", (s) => s.put(chainToJson(known), hotline));
}
