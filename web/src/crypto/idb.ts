/**
 * The few IndexedDB steps the page's stores share (keystore.ts, trustdb.ts,
 * app/recordheads.ts): a database of one object store, opened for one transaction at a
 * time, and a transaction that resolves only once it has committed.
 */

/** The result of an IndexedDB request, or its error. */
export function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error ?? new Error("IndexedDB request failed"));
  });
}

/** Open (and on first use create) database `name` holding object store `store`. */
export function openDatabase(name: string, store: string): Promise<IDBDatabase> {
  const req = indexedDB.open(name, 1);
  req.onupgradeneeded = () => {
    if (!req.result.objectStoreNames.contains(store)) req.result.createObjectStore(store);
  };
  return request(req);
}

/** Run `body` on `store` of an open database in one transaction; resolves with its
 * request's result once the transaction has committed (rejects if it fails or aborts). */
export async function transact<T>(db: IDBDatabase, store: string, mode: IDBTransactionMode,
                                  body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const tx = db.transaction(store, mode);
  const done = new Promise<void>((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onerror = () => reject(tx.error ?? new Error("IndexedDB transaction failed"));
    tx.onabort = () => reject(tx.error ?? new Error("IndexedDB transaction aborted"));
  });
  const result = await request(body(tx.objectStore(store)));
  await done;
  return result;
}

/** Open database `name`, run one transaction on `store`, close it again. */
export async function withStore<T>(name: string, store: string, mode: IDBTransactionMode,
                                   body: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDatabase(name, store);
  try {
    return await transact(db, store, mode, body);
  } finally {
    db.close();
  }
}
