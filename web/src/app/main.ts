/**
 * The browser call page (served by `hotline serve` at "/", or by `hotline web` on the user's
 * own machine, pointed at a server; bundle dist/app/main.js).
 *
 * 0. Provenance (provenance.ts): the server to talk to (the page's origin, or the one
 *    `hotline web` names), the bundle hash shown in the footer, the E2EE worker fetched
 *    with its integrity value.
 * 1. Identity: a non-extractable Ed25519 key in IndexedDB (keystore.ts), made on the first
 *    visit. If the server does not know it, the page asks for a one-time enrollment code
 *    (also taken from the URL fragment `#code=...`, which never reaches the server).
 * 2. Rooms: the `welcome` of an authenticated connection lists the party's rooms and its
 *    role in each. If the server cannot be reached, the page says so and tries again with
 *    a growing delay (1 s … 15 s) until it can.
 * 3. Pre-join check (prejoin.ts): preview, microphone level, devices, join muted or not.
 *    Listen-only roles skip it: they publish nothing.
 * 4. The call (call.ts), until Leave, a fatal E2EE error or a lost connection; then back
 *    to the room list, with the error shown.
 *
 * For tests and diagnostics the page keeps a summary on `window.hotlineApp` (view.ts; no keys).
 */

import { insecureTransport } from "../crypto/auth.js";
import { type LoadedIdentity, loadOrCreateIdentity } from "../crypto/keystore.js";
import { Forbidden, ServerError, Unauthorized } from "../errors.js";
import { LISTEN_ONLY } from "../protocol/messages.js";
import { SignalingClient } from "../protocol/signaling.js";
import { Call } from "./call.js";
import { missingFeatures, unsupportedMessage } from "./capabilities.js";
import type { HotlineCallStart } from "./hotlinecall.js";
import { HotlinesView } from "./hotlines.js";
import { Prejoin, type PrejoinChoice } from "./prejoin.js";
import { describe, loadProvenance, loadWorker, serverUrl } from "./provenance.js";
import { roleLabel } from "./tiles.js";
import { loadPolicy, trust } from "./trustui.js";
import { $, button, message, show, showError, sleep, state, status } from "./view.js";

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 15000;

let identity: LoadedIdentity | null = null;
let lobby: SignalingClient | null = null; // an authenticated connection, not in a call
let call: Call | null = null;
let reconnecting = false;
let hotlines: HotlinesView | null = null;
/** A call that ended because the server went away: joined again once it is back. */
let rejoin: { room: string; again: Omit<PrejoinChoice, "media"> | null } | null = null;

window.hotlineAppCounters = async () => (call === null || call.ended ? null : await call.e2ee.counters());

/** Why a request failed, in words for the person at the page. */
function explain(error: unknown, room?: string): string {
  if (error instanceof ServerError) {
    if (error instanceof Forbidden && room !== undefined && /not a member/.test(error.message)) {
      return `You are not a member of ${room} (any more). Ask your operator to add your party to it.`;
    }
    return `${error.message} (${error.code})`;
  }
  return message(error);
}

async function authenticated(): Promise<SignalingClient> {
  if (identity === null) throw new Error("no identity");
  const client = new SignalingClient(serverUrl(), identity.identity, { trust: trust.policy });
  await client.connect();
  try {
    await client.authenticate();
  } catch (error) {
    client.close();
    throw error;
  }
  return client;
}

/** Connect and show the room list; when the server is unreachable, keep trying. */
async function showRooms(): Promise<void> {
  status("Connecting…");
  let client: SignalingClient;
  try {
    client = await authenticated();
  } catch (error) {
    if (error instanceof Unauthorized) {
      showEnroll();
      return;
    }
    if (error instanceof ServerError) throw error; // refused (a revoked device): say so, stop
    void reconnect(message(error));
    return;
  }
  state.reconnects = 0;
  lobby = client;
  client.onEvent.add((e) => {
    if (e.kind === "closed" && lobby === client && call === null) {
      lobby = null;
      void reconnect(String(e.data["reason"] ?? "connection closed"));
    }
  });
  listRooms(client);
}

/** The server went away: say so, and try again with a growing delay. */
async function reconnect(reason: string): Promise<void> {
  if (reconnecting) return;
  reconnecting = true;
  try {
    show(null);
    let delay = RETRY_MIN_MS;
    for (;;) {
      state.phase = "loading";
      state.reconnects += 1;
      showError(`The server is unreachable (${reason}).`);
      status(`Trying again in ${Math.round(delay / 1000)} s…`);
      await sleep(delay);
      try {
        const client = await authenticated();
        client.close();
        break;
      } catch (error) {
        if (error instanceof ServerError) break; // it answers again; showRooms handles the rest
        reason = message(error);
        delay = Math.min(RETRY_MAX_MS, delay * 2);
      }
    }
  } finally {
    reconnecting = false;
  }
  showError(null);
  await showRooms();
}

function listRooms(client: SignalingClient): void {
  state.party = client.party;
  state.rooms = client.rooms;
  state.phase = "rooms";
  $("who").textContent = `Signed in as ${client.party}`;
  const list = $("rooms");
  list.replaceChildren();
  for (const room of client.rooms) {
    const role = client.roomRoles[room] ?? "delegate";
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = `Join ${room}`;
    b.dataset["room"] = room;
    b.addEventListener("click", () => void joinRoom(room));
    const note = document.createElement("span");
    note.className = "role";
    note.textContent = ` as ${roleLabel(role)}`;
    li.append(b, note);
    list.append(li);
  }
  $("no-rooms").hidden = client.rooms.length > 0;
  show("rooms");
  status(client.rooms.length ? "Choose a room to join." : "No rooms.");
  if (identity !== null) {
    hotlines ??= new HotlinesView(identity, { startCall: startHotlineCall, lobby: () => lobby });
    void hotlines.refresh();
  }
  if (rejoin !== null && call === null) {
    const r = rejoin;
    rejoin = null;
    if (client.rooms.includes(r.room)) {
      status(`The server is back: joining ${r.room} again…`);
      void joinRoom(r.room, r.again);
    }
  }
}

function showEnroll(): void {
  state.phase = "enroll";
  show("enroll");
  status("This browser is not enrolled yet.");
  const fromUrl = new URLSearchParams(location.hash.slice(1)).get("code");
  if (fromUrl) ($("code") as HTMLInputElement).value = fromUrl;
}

async function enroll(event: SubmitEvent): Promise<void> {
  event.preventDefault();
  if (identity === null) return;
  const code = ($("code") as HTMLInputElement).value.trim();
  const label = ($("label") as HTMLInputElement).value.trim();
  const b = button("enroll-button");
  b.disabled = true;
  showError(null);
  status("Enrolling…");
  const client = new SignalingClient(serverUrl(), identity.identity);
  try {
    await client.connect();
    await client.enroll(code, label);
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    client.close();
    await showRooms();
  } catch (error) {
    client.close();
    showError(`Enrollment failed: ${explain(error)}`);
    status("This browser is not enrolled yet.");
  } finally {
    b.disabled = false;
  }
}

async function joinRoom(room: string, again: Omit<PrejoinChoice, "media"> | null = null): Promise<void> {
  if (call !== null || lobby === null) return;
  const client = lobby;
  showError(null);
  const listenOnly = LISTEN_ONLY.has(client.roomRoles[room] ?? "delegate");
  const choice = listenOnly ? null : (again !== null ? await Prejoin.again(again) : null) ?? await Prejoin.run(room);
  if (!listenOnly && choice === null) { // cancelled
    listRooms(client);
    return;
  }
  if (lobby !== client) { // the connection dropped meanwhile
    for (const t of choice?.media.getTracks() ?? []) t.stop();
    return;
  }
  lobby = null;
  state.room = room;
  state.calls += 1;
  state.remotes = {};
  state.problems = [];
  state.media = { publish: "new", subscribe: "new", offers: 0, restarts: 0, restarting: false, lastRestartMs: null, proofMs: { audio: null, video: null } };
  $("call-title").textContent = `Call: ${room}`;
  show("call");
  const c = new Call(client, room, choice, (error, lost) => {
    if (lost) rejoin = { room, again: c.again }; // joined again once the server is back
    void afterCall(c, error);
  });
  call = c;
  try {
    await c.start();
  } catch (error) {
    await c.end(`Could not join ${room}: ${explain(error, room)}`);
  }
}

async function afterCall(c: Call, error: string | null): Promise<void> {
  if (call === c) call = null;
  try {
    const rejoining = rejoin !== null;
    if (lobby !== null) listRooms(lobby); // a hotline call ran on its own connection
    else await showRooms();
    if (error !== null && call === null && !reconnecting) { // not already joining again
      showError(error);
      status(rejoining ? "The call was cut: it is joined again once the server is back." : "Call ended with an error; you can join again.");
    }
  } catch (e) {
    show(null);
    showError(`${error ?? ""} ${message(e)}`.trim());
    status("Disconnected. Reload the page to reconnect.");
  }
}

/** A call on a hotline (answered, or placed and answered): pre-join, then the call on
 * the connection the hotline view gives; hanging up is said to the server. */
async function startHotlineCall(h: HotlineCallStart): Promise<void> {
  const refuse = (): void => {
    h.hangup();
    h.client.close();
  };
  if (call !== null) { // already in a call here
    refuse();
    return;
  }
  showError(null);
  const choice = await Prejoin.run(`the call on ${h.room.split(":")[1] ?? "the hotline"}`);
  if (choice === null) {
    refuse();
    if (lobby !== null) listRooms(lobby);
    return;
  }
  state.room = h.room;
  state.calls += 1;
  state.remotes = {};
  state.problems = [];
  state.media = { publish: "new", subscribe: "new", offers: 0, restarts: 0, restarting: false, lastRestartMs: null, proofMs: { audio: null, video: null } };
  $("call-title").textContent = `Hotline call: ${h.room.split(":")[1] ?? h.room}`;
  show("call");
  await new Promise<void>((resolve) => {
    const c = new Call(h.client, h.room, choice, (error) => { // a hotline call is not rejoined: call again
      h.hangup();
      void afterCall(c, error).then(resolve);
    }, { type: "hotline_join", call_id: h.callId });
    call = c;
    void h.ended.then((reason) => {
      if (!c.ended) void c.end(null).then(() => status(`The call ended: ${reason}.`));
    });
    c.start().catch((error: unknown) => void c.end(`Could not join the call: ${explain(error)}`));
  });
}

// ------------------------------------------------------------------- start

/** Plain http to a server beyond this machine: say so, loudly and for good (the Python
 * client refuses it without --insecure-http; a page can only warn). */
function warnIfInsecure(server: string): void {
  if (!insecureTransport(server)) return;
  const note = document.createElement("p");
  note.id = "insecure-warning";
  note.setAttribute("role", "alert");
  note.textContent = `WARNING: this page talks to ${new URL(server).host} over plain http. Anyone on the ` +
    "network path can read your enrollment code and the signaling, and pose as the server. " +
    "Do not enroll or join over this connection; ask your operator for an https:// address.";
  document.body.prepend(note);
}

async function main(): Promise<void> {
  ($("enroll-form") as HTMLFormElement).addEventListener("submit", (e) => void enroll(e));
  button("leave-button").addEventListener("click", () => void call?.end(null));
  button("verify-button").addEventListener("click", () => call?.setVerified(!state.verified));
  window.addEventListener("pagehide", () => {
    call?.client.close();
    lobby?.close();
  });
  status("Loading the page's configuration…");
  const provenance = await loadProvenance();
  state.provenance = provenance;
  $("provenance").textContent = describe(provenance);
  warnIfInsecure(serverUrl());  // the server this page talks to (hotline web: a remote one)
  const missing = await missingFeatures();
  if (missing.length > 0) throw new Error(unsupportedMessage(missing));
  await loadWorker();
  status("Loading the device key…");
  identity = await loadOrCreateIdentity();
  await loadPolicy(); // whom this browser seals keys to (IndexedDB, next to the key)
  state.fingerprint = identity.fingerprint;
  $("fingerprint").textContent = identity.fingerprint;
  if (identity.created) showEnroll();
  else await showRooms();
}

main().catch((error: unknown) => {
  show(null);
  showError(message(error));
  status("The page could not start.");
});
