/**
 * The signaling connection under `SignalingClient` (signaling.ts): the WebSocket, the
 * server's hello, requests and their replies, and resuming a connection that broke
 * mid-call (docs/SIGNALING.md "A broken connection: resume"): both sides number what they
 * sent since `joined`, and what the other side missed is sent again on the new connection.
 * What the messages mean (roster, keys, hotlines) is the subclass's `dispatch`.
 */

import { originOf, prove } from "../crypto/auth.js";
import type { Bytes } from "../crypto/bytes.js";
import type { Identity } from "../crypto/identity.js";
import { ConnectionFailed, ProtocolError, ServerError, serverError } from "../errors.js";
import { type ClientMessage, type IceServer, type ServerMessage, encodeClient, parseServer } from "./messages.js";

/** How long a broken connection is retried with `resume` (the server keeps a seat 15 s). */
const RESUME_WINDOW_MS = 12000;
const RESUME_BACKOFF_MS = [100, 250, 500, 1000, 2000];
const RESUME_KEEP = 1024;

export type ClientEventKind =
  | "joined" | "member_joined" | "member_left" | "member_media" | "connection_lost" | "resumed" | "keys_rotated" | "group_code" | "group_code_pending" | "key_rejected"
  | "unverified" | "accepted" | "refused" | "pin_mismatch" | "error" | "closed" | "phase_refused" | "phase" | "phase_alarm";

export interface ClientEvent {
  readonly kind: ClientEventKind;
  readonly data: Readonly<Record<string, unknown>>;
}

export function wsUrl(server: string): string {
  let url = server.replace(/\/+$/, "");
  if (url.startsWith("http://")) url = "ws://" + url.slice("http://".length);
  else if (url.startsWith("https://")) url = "wss://" + url.slice("https://".length);
  return url.endsWith("/ws") ? url : url + "/ws";
}

/** A FIFO whose `get` waits (with a timeout); `fail` makes every waiting and later get reject. */
export class AsyncQueue<T> {
  private readonly items: T[] = [];
  private readonly waiters: { resolve: (item: T) => void; reject: (error: Error) => void }[] = [];
  private failure: Error | null = null;

  put(item: T): void {
    const waiter = this.waiters.shift();
    if (waiter !== undefined) waiter.resolve(item);
    else this.items.push(item);
  }

  get size(): number {
    return this.items.length;
  }

  get(timeoutSeconds = Infinity): Promise<T> {
    if (this.items.length) return Promise.resolve(this.items.shift() as T);
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise<T>((resolve, reject) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const waiter = {
        resolve: (item: T) => { clearTimeout(timer); resolve(item); },
        reject: (error: Error) => { clearTimeout(timer); reject(error); },
      };
      this.waiters.push(waiter);
      if (Number.isFinite(timeoutSeconds)) {
        timer = setTimeout(() => {
          const i = this.waiters.indexOf(waiter);
          if (i >= 0) this.waiters.splice(i, 1);
          reject(new ConnectionFailed(`no reply within ${timeoutSeconds} s`));
        }, timeoutSeconds * 1000);
      }
    });
  }

  fail(error: Error): void {
    this.failure = error;
    for (const w of this.waiters.splice(0)) w.reject(error);
  }
}

type Reply = ServerMessage["type"];

/** A seat to take back with `resume`: ours after `joined`, until we leave. */
export interface Seat {
  readonly room: string;
  readonly participantId: number;
  readonly token: Bytes;
}

export abstract class SignalingConnection {
  readonly url: string;
  /** What our proofs name: the server as we know it (the URL we connect to), never what
   * the server says it is (`hello.server` is only its software name). */
  readonly origin: string;
  readonly events = new AsyncQueue<ClientEvent>();
  readonly onEvent = new Set<(event: ClientEvent) => void>();
  /** Connections resumed after a break. */
  resumes = 0;

  protected ws: WebSocket | null = null;
  protected challenge: Bytes = new Uint8Array(0);
  protected replies = new AsyncQueue<ServerMessage>();
  protected closing = false;
  // After `joined`: the seat's resume token, messages received since, what we sent since
  // (numbered): a connection that breaks mid-call is resumed without a loss.
  protected seat: Seat | null = null;
  /** TURN servers and credentials of the call (`joined`; fresh ones with `resumed`). */
  iceServers: readonly IceServer[] = [];
  protected received = 0;
  protected sentLog: [number, string][] = [];
  protected sentSeq = 0;
  private resuming = false;

  constructor(server: string, readonly identity: Identity) {
    this.url = wsUrl(server);
    this.origin = originOf(this.url);
  }

  /** One message from the server, validated, in the order it came. */
  protected abstract dispatch(message: ServerMessage): void;

  /** The connection is closed or lost: stop what runs on a timer. */
  protected abstract halt(): void;

  /** Open the WebSocket and wait for the server's hello. */
  connect(timeoutSeconds = 10.0): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let ws: WebSocket;
      try {
        ws = new WebSocket(this.url);
      } catch (error) {
        reject(new ConnectionFailed(`cannot reach ${this.url}: ${String(error)}`));
        return;
      }
      this.ws = ws;
      let greeted = false;
      const timer = setTimeout(() => {
        if (!greeted) {
          reject(new ConnectionFailed(`no hello from ${this.url}`));
          ws.close();
        }
      }, timeoutSeconds * 1000);
      ws.onmessage = (ev: MessageEvent) => {
        if (typeof ev.data !== "string") {
          this.lost("connection closed (BINARY)");
          return;
        }
        if (greeted) {
          this.receive(ev.data);
          return;
        }
        greeted = true;
        clearTimeout(timer);
        let hello: ServerMessage;
        try {
          hello = parseServer(ev.data);
        } catch (error) {
          reject(error);
          ws.close();
          return;
        }
        if (hello.type !== "hello") {
          reject(new ProtocolError("server did not say hello"));
          ws.close();
          return;
        }
        this.challenge = hello.challenge;
        resolve();
      };
      ws.onclose = (ev: CloseEvent) => {
        clearTimeout(timer);
        if (!greeted) {
          greeted = true;
          reject(new ConnectionFailed(`cannot reach ${this.url} (close ${ev.code})`));
        }
        this.closed(ws, ev);
      };
      ws.onerror = () => {
        // a close event follows and says the rest
      };
    });
  }

  close(): void {
    this.closing = true;
    this.halt();
    this.replies.fail(new ConnectionFailed("client closed"));
    this.ws?.close();
  }

  /** The current connection closed: resumed if it broke mid-call, else lost. */
  private closed(ws: WebSocket, ev: CloseEvent): void {
    if (ws !== this.ws) return; // an earlier connection, replaced by a resumed one
    const reason = `connection closed (${ev.code}${ev.reason ? ` ${ev.reason}` : ""})`;
    if (this.seat !== null && !this.closing && ev.code !== 1000 && ev.code !== 4008) void this.resume(reason);
    else this.lost(reason);
  }

  protected lost(reason: string): void {
    this.replies.fail(new ConnectionFailed(reason));
    this.halt();
    if (!this.closing) {
      this.closing = true;
      this.event("closed", { reason });
      this.ws?.close();
    }
  }

  protected send(message: ClientMessage): void {
    const text = encodeClient(message);
    if (this.seat !== null) {
      this.sentSeq += 1;
      this.sentLog.push([this.sentSeq, text]);
      if (this.sentLog.length > RESUME_KEEP) this.sentLog.shift();
      if (this.resuming) return; // sent again once resumed, if the server did not get it
    }
    if (this.ws === null || this.ws.readyState !== WebSocket.OPEN) throw new ConnectionFailed("not connected");
    this.ws.send(text);
  }

  /** The connection broke mid-call: take the seat back on a new one (`resume`), with
   * what either side missed sent again; else the connection is lost. */
  private async resume(reason: string): Promise<void> {
    if (this.resuming || this.seat === null) return;
    this.resuming = true;
    this.event("connection_lost", { reason });
    const seat = this.seat;
    const deadline = performance.now() + RESUME_WINDOW_MS;
    for (let attempt = 0; performance.now() < deadline && !this.closing; attempt++) {
      await new Promise((r) => setTimeout(r, RESUME_BACKOFF_MS[Math.min(attempt, RESUME_BACKOFF_MS.length - 1)]));
      try {
        const resumed = await this.resumeOnce(seat);
        this.resuming = false;
        const oldest = this.sentLog[0];
        if (oldest !== undefined && oldest[0] > resumed.received + 1) break; // what the server missed is gone
        for (const [seq, text] of this.sentLog) if (seq > resumed.received) this.ws?.send(text);
        this.iceServers = resumed.ice_servers;
        this.resumes += 1;
        this.event("resumed", { attempts: attempt + 1 });
        return;
      } catch (error) {
        if (error instanceof ServerError) break; // refused: the seat is gone
      }
    }
    this.resuming = false;
    this.lost(`${reason}; could not resume`);
  }

  /** One attempt: a new WebSocket, auth, resume; the messages of the handshake are not
   * counted, the server's replays are. */
  private resumeOnce(seat: Seat): Promise<Extract<ServerMessage, { type: "resumed" }>> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      let done = false;
      const fail = (error: Error): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        ws.close();
        reject(error);
      };
      const timer = setTimeout(() => fail(new ConnectionFailed("no answer to resume")), 5000);
      ws.onmessage = (ev: MessageEvent) => {
        if (done) {
          if (typeof ev.data === "string") this.receive(ev.data);
          return;
        }
        let message: ServerMessage;
        try {
          message = parseServer(String(ev.data));
        } catch (error) {
          fail(error instanceof Error ? error : new Error(String(error)));
          return;
        }
        if (message.type === "hello") {
          this.challenge = message.challenge;
          void prove(this.identity, "auth", message.challenge, this.origin).then((signature) => {
            ws.send(encodeClient({ type: "auth", identity_key: this.identity.publicKey, signature, origin: this.origin }));
            ws.send(encodeClient({
              type: "resume", room: seat.room, participant_id: seat.participantId, token: seat.token, received: this.received,
            }));
          }, (error: unknown) => fail(error instanceof Error ? error : new Error(String(error))));
        } else if (message.type === "error") {
          fail(serverError(message.code, message.message));
        } else if (message.type === "resumed") {
          done = true;
          clearTimeout(timer);
          const old = this.ws;
          this.ws = ws;
          old?.close();
          ws.onclose = (ev: CloseEvent) => this.closed(ws, ev);
          resolve(message);
        } // welcome: nothing to do
      };
      ws.onclose = () => fail(new ConnectionFailed("closed while resuming"));
    });
  }

  /** The next reply of one of `types`; a server error rejects with ServerError. */
  protected async reply<T extends Reply>(types: readonly T[], timeoutSeconds = 10.0): Promise<Extract<ServerMessage, { type: T }>> {
    for (;;) {
      const reply = await this.replies.get(timeoutSeconds);
      if (reply.type === "error") throw serverError(reply.code, reply.message);
      if ((types as readonly string[]).includes(reply.type)) return reply as Extract<ServerMessage, { type: T }>;
    }
  }

  private receive(text: string): void {
    let message: ServerMessage;
    try {
      message = parseServer(text);
    } catch (error) {
      this.lost(error instanceof Error ? error.message : String(error));
      return;
    }
    if (this.seat !== null && message.type !== "resumed") this.received += 1;
    this.dispatch(message);
  }

  protected event(kind: ClientEventKind, data: Record<string, unknown>): void {
    const event: ClientEvent = { kind, data };
    this.events.put(event);
    for (const listener of this.onEvent) {
      try {
        listener(event);
      } catch {
        // a listener's failure is its own
      }
    }
  }}
