/**
 * Hotlines in the browser (docs/SIGNALING.md "Hotlines"):
 *
 * - the dashboard: every hotline of our party with its state, standby endpoints per side,
 *   the last link test with its figures, uptime over 24 h and 30 days, open alarms, and a
 *   chart of the last tests (round trip over time, coloured by outcome);
 * - "Stand by here": a signaling connection of its own per hotline that stays registered
 *   (reconnecting with a growing delay), answers link tests by itself with the synthetic
 *   pattern (linktest.ts: never the camera or microphone), and rings on a real call
 *   (a notification and a sound) with Acknowledge (and a message, e.g. an ETA), Answer and
 *   Decline. The choice is remembered in this browser;
 * - "Call": rings the other side; shows how many endpoints ring and who acknowledged
 *   with what message; the call's media starts only after the far end answered.
 *
 * A call on a hotline is an ordinary call (call.ts) entered with `hotline_join`.
 */

import type { LoadedIdentity } from "../crypto/keystore.js";
import type { CallAcked } from "../protocol/messages.js";
import { checkHotlineRoom } from "../protocol/hotlinerooms.js";
import { SignalingClient } from "../protocol/signaling.js";
import { serverUrl } from "./provenance.js";
import { type HotlinesHost, tell } from "./hotlinecall.js";
import { StandbyEndpoint, type StandbyView } from "./standby.js";
import { alarm, pinSection, trust } from "./trustui.js";
import { $, button, message, state } from "./view.js";

const STORAGE_KEY = "hotline.standby";
const CHART_W = 320;
const CHART_H = 90;

type Doc = Readonly<Record<string, unknown>>;

function num(x: unknown): number | null {
  return typeof x === "number" && Number.isFinite(x) ? x : null;
}

function fmt(x: unknown, unit: string, digits = 0): string {
  const n = num(x);
  return n === null ? "–" : `${n.toFixed(digits)} ${unit}`;
}

function when(ms: unknown): string {
  const n = num(ms);
  return n === null ? "never" : new Date(n).toLocaleString();
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, cls?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (cls !== undefined) e.className = cls;
  return e;
}

/** Round trip of each test over time, a dot per test coloured by its outcome. */
/** The paths of a round of link tests (hotline_status), in the order they ran. */
function pathsOf(round: Doc): [string, Doc][] {
  const paths = round["paths"];
  return paths !== null && typeof paths === "object" ? Object.entries(paths as Record<string, Doc>) : [];
}

/** A round's round trip: of its first path that carried media (else its first path). */
function roundTrip(round: Doc): unknown {
  const paths = pathsOf(round);
  const up = paths.find(([, d]) => d["outcome"] === "ok" || d["outcome"] === "degraded") ?? paths[0];
  return up?.[1]["rtt_ms"] ?? null;
}

const PATH_NAMES: Record<string, string> = { sfu: "via SFU", direct: "direct", relay: "relay (TURN)" };

function chart(tests: readonly Doc[]): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${CHART_W} ${CHART_H}`);
  svg.setAttribute("class", "chart");
  svg.setAttribute("role", "img");
  const rtts = tests.map((t) => num(roundTrip(t)) ?? 0);
  const top = Math.max(10, ...rtts);
  svg.setAttribute("aria-label", `Link tests: round trip over time, ${tests.length} tests, up to ${Math.round(top)} ms`);
  const axis = document.createElementNS(ns, "line");
  Object.entries({ x1: "0", y1: String(CHART_H - 1), x2: String(CHART_W), y2: String(CHART_H - 1), class: "axis" })
    .forEach(([k, v]) => axis.setAttribute(k, v));
  svg.append(axis);
  tests.forEach((t, i) => {
    const x = tests.length === 1 ? CHART_W / 2 : 6 + (i * (CHART_W - 12)) / (tests.length - 1);
    const y = CHART_H - 6 - ((num(roundTrip(t)) ?? 0) / top) * (CHART_H - 14);
    const dot = document.createElementNS(ns, "circle");
    dot.setAttribute("cx", x.toFixed(1));
    dot.setAttribute("cy", y.toFixed(1));
    dot.setAttribute("r", "4");
    dot.setAttribute("class", `dot ${String(t["outcome"] ?? "unknown")}`);
    const title = document.createElementNS(ns, "title");
    title.textContent = `${when(t["time_ms"])}: ${String(t["outcome"])}, round trip ${fmt(roundTrip(t), "ms", 1)}`;
    dot.append(title);
    svg.append(dot);
  });
  return svg;
}

// ---------------------------------------------------------------- the view

export class HotlinesView implements StandbyView {
  readonly standby = new Map<string, StandbyEndpoint>();
  lastResult = "";
  private hotlines: readonly Doc[] = [];
  private calling = false;

  constructor(readonly identity: LoadedIdentity, readonly host: HotlinesHost) {
    const wanted = JSON.parse(localStorage.getItem(STORAGE_KEY) ?? "[]") as unknown;
    if (Array.isArray(wanted)) for (const name of wanted) if (typeof name === "string") this.toggleStandby(name, true);
  }

  notice(text: string): void {
    $("hotline-notice").textContent = text;
  }

  /** Ask the server for the dashboard's data and draw it. */
  async refresh(): Promise<void> {
    const lobby = this.host.lobby();
    if (lobby === null) return;
    try {
      const status = await lobby.ask({ type: "hotline_status_request", last: 50 }, ["hotline_status"]);
      this.hotlines = status.hotlines;
    } catch (error) {
      this.notice(`Hotline status: ${message(error)}`);
      return;
    }
    this.render();
  }

  private toggleStandby(name: string, on: boolean): void {
    const current = this.standby.get(name);
    if (on && current === undefined) {
      const endpoint = new StandbyEndpoint(name, this);
      this.standby.set(name, endpoint);
      void endpoint.run().finally(() => {
        if (this.standby.get(name) === endpoint) this.standby.delete(name);
        this.save();
        this.render();
      });
      if ("Notification" in window && Notification.permission === "default") void Notification.requestPermission().catch(() => undefined);
    } else if (!on && current !== undefined) {
      current.stop();
      this.standby.delete(name);
    }
    this.save();
  }

  private save(): void {
    localStorage.setItem(STORAGE_KEY, JSON.stringify([...this.standby.keys()]));
    state.hotlines.standby = Object.fromEntries([...this.standby].map(([n, e]) => [n, e.connected]));
  }

  render(): void {
    state.hotlines.list = this.hotlines.map((h) => ({ name: String(h["name"]), state: String(h["state"]) }));
    state.hotlines.standby = Object.fromEntries([...this.standby].map(([n, e]) => [n, e.connected]));
    const list = $("hotlines");
    list.replaceChildren();
    $("hotlines-view").hidden = this.hotlines.length === 0;
    for (const h of this.hotlines) list.append(this.card(h));
  }

  private card(h: Doc): HTMLElement {
    const name = String(h["name"]);
    const parties = (h["parties"] as string[] | undefined) ?? [];
    const far = parties.find((p) => p !== state.party) ?? "?";
    const card = el("article", undefined, "hotline");
    card.dataset["hotline"] = name;
    const head = el("h3", `${name} — with ${far}`);
    const badge = el("span", String(h["state"]).replace("_", " "), `state ${String(h["state"])}`);
    head.append(" ", badge);
    card.append(head);
    const standby = (h["standby"] as Record<string, number> | undefined) ?? {};
    card.append(el("p", `Standby endpoints: ${parties.map((p) => `${p} ${standby[p] ?? 0}`).join(", ")}`));
    const last = h["last_test"] as Doc | null | undefined;
    card.append(el("p", last
      ? `Last test ${when(last["time_ms"])}: ${String(last["outcome"])}${last["reason"] ? ` (${String(last["reason"])})` : ""}`
      : "No link test yet.", "last-test"));
    if (last) {
      const list = el("ul", undefined, "paths");
      for (const [path, d] of pathsOf(last)) {
        const item = el("li", `${PATH_NAMES[path] ?? path}: ${String(d["outcome"])} · set-up ${fmt(d["setup_ms"], "ms")} · first frame ${fmt(d["first_frame_ms"], "ms")} · round trip ${fmt(d["rtt_ms"], "ms", 1)} · loss ${fmt(num(d["loss"]) === null ? null : (num(d["loss"]) ?? 0) * 100, "%", 1)} · jitter ${fmt(d["jitter_ms"], "ms", 1)}`, `path ${String(d["outcome"])}`);
        item.dataset["path"] = path;
        list.append(item);
      }
      card.append(list);
    }
    const uptime = (h["uptime"] as Record<string, Doc> | undefined) ?? {};
    const pct = (d: Doc | undefined): string => (num(d?.["ratio"]) === null ? "–" : `${((num(d?.["ratio"]) ?? 0) * 100).toFixed(2)} % of ${String(d?.["tests"])} tests`);
    card.append(el("p", `Uptime: 24 h ${pct(uptime["24h"])} · 30 days ${pct(uptime["30d"])}`));
    const alarms = (h["alarms_open"] as Doc[] | undefined) ?? [];
    if (alarms.length) card.append(el("p", `Alarm: ${alarms.map((a) => `${String(a["reason"])} since ${when(a["time_ms"])}`).join("; ")}`, "alarm"));
    const record = state.hotlines.record[name]; // what this browser's standby saw (standby.ts)
    if (record?.alarm) card.append(el("p", `ALARM (this browser): ${record.alarm}`, "alarm record-alarm"));
    const tests = (h["tests"] as Doc[] | undefined) ?? [];
    if (tests.length) {
      const figure = el("figure", undefined, "chart-figure");
      figure.append(chart(tests), el("figcaption", `Round trip of the last ${tests.length} link test${tests.length === 1 ? "" : "s"}, oldest first (green ok, orange degraded, red failed).`));
      card.append(figure);
    }
    const actions = el("div", undefined, "buttons");
    const on = this.standby.has(name);
    const standbyButton = el("button", on ? "Stop standing by here" : "Stand by here");
    standbyButton.type = "button";
    standbyButton.setAttribute("aria-pressed", String(on));
    standbyButton.addEventListener("click", () => {
      this.toggleStandby(name, !this.standby.has(name));
      this.render();
    });
    const testButton = el("button", "Run a link test now");
    testButton.type = "button";
    testButton.addEventListener("click", () => void this.linktestNow(name, testButton));
    const callButton = el("button", `Call ${far}`);
    callButton.type = "button";
    callButton.disabled = this.calling;
    callButton.addEventListener("click", () => void this.call(name, far));
    actions.append(standbyButton, testButton, callButton);
    card.append(actions);
    card.append(pinSection(name, far, () => this.render()));
    const status = this.standby.get(name);
    if (status !== undefined) card.append(el("p", status.connected ? "This browser stands by: link tests are answered automatically; calls ring here." : "Standing by: connecting…", "standby-state"));
    if (status?.lastCode) card.append(el("p", `Last link test in this browser: ${status.lastCode}`, "linktest-code"));
    return card;
  }

  private async linktestNow(name: string, b: HTMLButtonElement): Promise<void> {
    const lobby = this.host.lobby();
    if (lobby === null) return;
    b.disabled = true;
    this.notice(`Link test of ${name} running…`);
    try {
      const result = await lobby.ask({ type: "linktest_request", hotline: name }, ["linktest_result"], 60);
      this.notice(`Link test of ${name}: ${result.outcome}${result.result["reason"] ? ` (${String(result.result["reason"])})` : ""}`);
    } catch (error) {
      this.notice(`Link test of ${name}: ${message(error)}`);
    } finally {
      b.disabled = false;
    }
    await this.refresh();
  }

  /** Ring the other side; the call starts when it answered. */
  private async call(name: string, far: string): Promise<void> {
    if (this.calling) return;
    if (!trust.policy.hasPin(name)) { // refused here before anything is asked of the server
      alarm(`hotline '${name}': no pin of ${far} in this browser; import it (verified out of band) before calling.`);
      return;
    }
    this.calling = true;
    this.render();
    // the far end must be one of the hotline's pins in this browser (else: refused, alarm)
    const client = new SignalingClient(serverUrl(), this.identity.identity, { trust: trust.policy.forHotline(name) });
    const panel = $("calling-panel");
    const text = $("calling-text");
    panel.hidden = false;
    text.textContent = `Calling ${far} on ${name}…`;
    state.hotlines.calling = { hotline: name, ack: null, answered: false, ended: null };
    let callId = "";
    let settle: (reason: string) => void = () => undefined;
    const ended = new Promise<string>((resolve) => { settle = resolve; });
    const hangUp = new AbortController();
    button("calling-hangup").addEventListener("click", () => {
      if (callId) tell(client, { type: "hangup", call_id: callId });
      settle("you hung up");
    }, { signal: hangUp.signal });
    try {
      await client.connect();
      await client.authenticate();
      const answered = new Promise<string>((resolve) => {
        client.onHotline.add((m) => {
          if (m.type === "call_acked") this.acked(m, far);
          else if (m.type === "call_answered") resolve(m.room);
          else if (m.type === "call_ended") settle(m.reason);
        });
      });
      client.onEvent.add((e) => { if (e.kind === "closed") settle("connection lost"); });
      const ringing = await client.ask({ type: "hotline_call", hotline: name }, ["call_ringing", "call_ended"]);
      if (ringing.type === "call_ended") throw new Error(ringing.reason);
      callId = ringing.call_id;
      text.textContent = `Ringing ${far}: ${ringing.endpoints} standby endpoint${ringing.endpoints === 1 ? "" : "s"}…`;
      // The room is ours to derive (hotline + call id), not the server's to pick.
      const room = checkHotlineRoom(await Promise.race([answered, ended.then((reason) => { throw new Error(reason); })]), name, callId);
      state.hotlines.calling.answered = true;
      panel.hidden = true;
      hangUp.abort();
      await this.host.startCall({ client, room, callId, ended, hangup: () => tell(client, { type: "hangup", call_id: callId }) });
    } catch (error) {
      state.hotlines.calling.ended = message(error);
      this.notice(`Call on ${name} ended: ${message(error)}`);
      client.close();
    } finally {
      hangUp.abort();
      panel.hidden = true;
      this.calling = false;
      this.render();
    }
  }

  private acked(m: CallAcked, far: string): void {
    if (state.hotlines.calling !== null) state.hotlines.calling.ack = m.message;
    $("calling-text").textContent = `Acknowledged by ${far} (${m.device})${m.message ? `: “${m.message}”` : ""}. Waiting for the answer…`;
  }
}
