/**
 * A browser standby endpoint of one hotline (hotlines.ts draws it): a signaling
 * connection of its own that stays registered (reconnecting with a growing delay),
 * answers link tests by itself with the synthetic pattern (linktest.ts), and rings on a
 * real call: a notification and a sound, with Acknowledge (and a message such as an
 * ETA), Answer and Decline. After the answer the call runs on a new connection of the
 * same device (`hotline_join`); the standby connection says `hangup` at its end.
 *
 * Each link-test report is signed with the device key (crypto/linkreport.ts) and
 * co-signs the head of the hotline's uptime record this browser knows (kept in
 * IndexedDB: recordheads.ts); the server sends the entries after it (`record_entries`)
 * and crypto/chainwatch.ts checks they extend it. A rewritten or forked history is an
 * alarm (console error, notice on the page, `state.hotlines.record`), and link tests
 * fail with that reason from then on.
 */

import { type KnownChain, follow, head, missingReports } from "../crypto/chainwatch.js";
import type { LoadedIdentity } from "../crypto/keystore.js";
import { NO_KEY, reportDigest, signReport } from "../crypto/linkreport.js";
import type { ErrorMessage, HotlineMessage, LinkTestFigures, LinkTestStart, RecordEntries, Ring } from "../protocol/messages.js";
import { checkHotlineRoom } from "../protocol/hotlinerooms.js";
import { Forbidden } from "../errors.js";
import { SignalingClient } from "../protocol/signaling.js";
import { type HotlinesHost, tell } from "./hotlinecall.js";
import { takePart } from "./linktest.js";
import { serverUrl } from "./provenance.js";
import { loadHead, saveHead } from "./recordheads.js";
import { trust } from "./trustui.js";
import { $, button, message, sleep, state } from "./view.js";

const RETRY_MIN_MS = 1000;
const RETRY_MAX_MS = 30000;

/** What a standby endpoint needs of the page that draws it (hotlines.ts's HotlinesView). */
export interface StandbyView {
  readonly identity: LoadedIdentity;
  readonly host: HotlinesHost;
  /** The last link-test result shown on the dashboard. */
  lastResult: string;
  notice(text: string): void;
  render(): void;
  refresh(): Promise<void>;
}

export class StandbyEndpoint {
  client: SignalingClient | null = null;
  connected = false;
  /** This browser's end of the last link test: its group code, or why it failed. */
  lastCode = "";
  private stopped = false;
  private ring: Ring | null = null;
  private sound: { stop(): void } | null = null;
  private activeCall: string | null = null;
  private readonly callEnded = new Map<string, (reason: string) => void>();
  /** The record head this browser knows; record messages and link tests in order. */
  private known: KnownChain | null = null;
  private recordQueue: Promise<void> = Promise.resolve();

  constructor(readonly hotline: string, private readonly view: StandbyView) {}

  async run(): Promise<void> {
    let delay = RETRY_MIN_MS;
    while (!this.stopped) {
      const client = new SignalingClient(serverUrl(), this.view.identity.identity);
      this.client = client;
      try {
        await client.connect();
        await client.authenticate();
        const closed = new Promise<void>((resolve) => client.onEvent.add((e) => { if (e.kind === "closed") resolve(); }));
        client.onHotline.add((m) => this.handle(m));
        this.known ??= await loadHead(this.hotline);
        this.showRecord();
        if (this.known.alarm) this.view.notice(`ALARM: ${this.known.alarm}`); // raised before, still open
        await client.ask({ type: "standby", hotline: this.hotline, record_length: this.known.length }, ["standby_ok"]);
        this.connected = true;
        delay = RETRY_MIN_MS;
        this.view.render();
        await closed;
      } catch (error) {
        if (error instanceof Forbidden) { // not pinned: retrying will not help
          this.view.notice(`Standby for ${this.hotline} refused: ${error.message}`);
          this.stop();
        }
      }
      client.close();
      this.connected = false;
      this.stopRinging();
      this.view.render();
      if (this.stopped) return;
      this.view.notice(`Standby for ${this.hotline}: connection lost, reconnecting in ${Math.round(delay / 1000)} s…`);
      await sleep(delay);
      delay = Math.min(RETRY_MAX_MS, delay * 2);
    }
  }

  stop(): void {
    this.stopped = true;
    this.stopRinging();
    this.client?.close();
  }

  private handle(m: HotlineMessage | ErrorMessage): void {
    switch (m.type) {
      case "linktest_start":
        if (m.hotline === this.hotline) this.inOrder(() => this.linktest(m));
        break;
      case "record_entries":
        if (m.hotline === this.hotline) this.inOrder(() => this.recordEntries(m));
        break;
      case "linktest_result":
        this.view.lastResult = `${m.hotline}: ${m.outcome}`;
        void this.view.refresh();
        break;
      case "ring":
        if (m.hotline === this.hotline) this.ringing(m);
        break;
      case "ring_stop":
        if (this.ring?.call_id === m.call_id) {
          this.stopRinging();
          this.view.notice(`The call on ${this.hotline} was taken elsewhere: ${m.reason}`);
        }
        break;
      case "call_answered":
        if (this.ring?.call_id === m.call_id || this.activeCall === m.call_id) void this.answered(m.call_id, m.room);
        break;
      case "call_ended":
        this.callEnded.get(m.call_id)?.(m.reason);
        if (this.ring?.call_id === m.call_id) {
          this.stopRinging();
          this.view.notice(`The call on ${this.hotline} ended: ${m.reason}`);
        }
        break;
      default:
        break;
    }
  }

  /** Record entries are checked, and a link test's head taken, in the order they came. */
  private inOrder(task: () => Promise<void>): void {
    this.recordQueue = this.recordQueue.then(task).catch((error: unknown) => {
      this.view.notice(`Standby for ${this.hotline}: ${message(error)}`);
    });
  }

  private showRecord(): void {
    if (this.known !== null) state.hotlines.record[this.hotline] = { length: this.known.length, alarm: this.known.alarm };
  }

  private async alarm(problems: string[]): Promise<void> {
    const known = this.known!;
    console.error(`ALARM standby hotline=${this.hotline}: ${problems.join("; ")}`);
    if (known.alarm) return; // already raised (and shown); it stays until looked into
    known.alarm = `uptime record of ${JSON.stringify(this.hotline)} rewritten or forked: ${problems.join("; ")}`;
    await saveHead(this.hotline, known);
    this.showRecord();
    this.view.render();
    this.view.notice(`ALARM: ${known.alarm}`);
  }

  private async recordEntries(m: RecordEntries): Promise<void> {
    const known = this.known!;
    const problems = await follow(known, this.hotline, m.start, m.entries, this.view.identity.identity.publicKey);
    if (problems.length) {
      await this.alarm(problems);
    } else {
      await saveHead(this.hotline, known);
      this.showRecord();
    }
  }

  private async linktest(start: LinkTestStart): Promise<void> {
    state.hotlines.linktests += 1;
    const known = this.known!;
    const missing = missingReports(known);
    if (missing.length) await this.alarm(missing);
    let figures: LinkTestFigures;
    let farKey: Uint8Array = NO_KEY;
    if (known.alarm) { // a rewritten history: this test fails, and says why
      figures = {
        joined: false, setup_ms: null, first_frame_ms: null, video_frames: 0, audio_frames: 0, decrypt_failures: 0,
        rtt_ms: null, loss: null, jitter_ms: null, group_code: "", error: known.alarm.slice(0, 200),
      };
    } else {
      ({ figures, farKey } = await takePart(this.view.identity.identity, start));
    }
    const [headLength, headHash] = head(known);
    const { group_code: groupCode, ...measured } = figures;
    const report = await signReport(this.view.identity.identity, {
      hotline: start.hotline, testId: start.test_id, role: start.role, path: start.path, farKey, headLength, headHash,
      groupCode, figures: measured,
    });
    if (!this.connected) return; // the connection broke meanwhile: no report, no entry
    known.pending.set(start.test_id, { digest: await reportDigest(report), farKey, groupCode });
    while (known.pending.size > 16) known.pending.delete(known.pending.keys().next().value!);
    await saveHead(this.hotline, known);
    tell(this.client, { type: "linktest_report", test_id: start.test_id, figures, report: report.encoded });
    // our end's group code (the far end shows the same one), on the hotline's card
    this.lastCode = figures.group_code ? `group code ${figures.group_code} (the far end shows the same)` : `failed here: ${figures.error}`;
    this.view.render();
  }

  // -- a real call rings here

  private ringing(ring: Ring): void {
    this.ring = ring;
    state.hotlines.ringing = { hotline: ring.hotline, callId: ring.call_id, caller: ring.caller_party };
    $("ring-title").textContent = `Hotline ${ring.hotline}: ${ring.caller_party} is calling`;
    $("ring-detail").textContent = `from ${ring.caller_party}/${ring.caller_device}. Acknowledge to stop the ringing elsewhere (add a message such as "principal in 10 minutes"), then answer when ready.`;
    ($("ring-message") as HTMLInputElement).value = "";
    button("ring-ack").disabled = false;
    $("ring-panel").hidden = false;
    button("ring-ack").focus();
    this.sound = ringSound();
    if ("Notification" in window && Notification.permission === "granted") {
      new Notification(`Hotline ${ring.hotline}`, { body: `${ring.caller_party} is calling`, requireInteraction: true });
    }
    const signal = new AbortController();
    const done = (): void => signal.abort();
    button("ring-ack").addEventListener("click", () => {
      tell(this.client, { type: "ring_ack", call_id: ring.call_id, message: ($("ring-message") as HTMLInputElement).value.slice(0, 200) });
      button("ring-ack").disabled = true;
      this.sound?.stop();
      $("ring-detail").textContent = "Acknowledged: the caller sees your message. Answer when ready.";
    }, { signal: signal.signal });
    button("ring-answer").addEventListener("click", () => {
      done();
      tell(this.client, { type: "call_answer", call_id: ring.call_id });
      this.activeCall = ring.call_id;
      this.sound?.stop();
    }, { signal: signal.signal });
    button("ring-decline").addEventListener("click", () => {
      done();
      tell(this.client, { type: "hangup", call_id: ring.call_id });
      this.stopRinging();
    }, { signal: signal.signal });
    this.abortRing = done;
  }

  private abortRing: (() => void) | null = null;

  private stopRinging(): void {
    this.abortRing?.();
    this.abortRing = null;
    this.sound?.stop();
    this.sound = null;
    if (this.ring !== null) {
      this.ring = null;
      state.hotlines.ringing = null;
      $("ring-panel").hidden = true;
    }
  }

  private async answered(callId: string, named: string): Promise<void> {
    this.stopRinging();
    let room: string;
    try {
      room = checkHotlineRoom(named, this.hotline, callId); // derived here, not the server's pick
    } catch (error) {
      this.view.notice(`Call on ${this.hotline} refused: ${message(error)}`);
      tell(this.client, { type: "hangup", call_id: callId });
      return;
    }
    this.activeCall = callId;
    // the call's own connection; the far end must be one of the hotline's pins here
    const client = new SignalingClient(serverUrl(), this.view.identity.identity, { trust: trust.policy.forHotline(this.hotline) });
    try {
      await client.connect();
      await client.authenticate();
    } catch (error) {
      this.view.notice(`Could not join the call: ${message(error)}`);
      tell(this.client, { type: "hangup", call_id: callId });
      client.close();
      return;
    }
    const ended = new Promise<string>((resolve) => this.callEnded.set(callId, resolve));
    await this.view.host.startCall({
      client, room, callId, ended,
      hangup: () => tell(this.client, { type: "hangup", call_id: callId }),
    });
    this.callEnded.delete(callId);
    this.activeCall = null;
  }
}

/** A repeated two-tone ring until stopped (WebAudio; no sound file). */
function ringSound(): { stop(): void } {
  let context: AudioContext;
  try {
    context = new AudioContext();
  } catch {
    return { stop: () => undefined };
  }
  const gain = context.createGain();
  gain.gain.value = 0;
  gain.connect(context.destination);
  const tone = context.createOscillator();
  tone.frequency.value = 480;
  tone.connect(gain);
  tone.start();
  const timer = setInterval(() => {
    const t = context.currentTime;
    gain.gain.setValueAtTime(0.2, t);
    gain.gain.setValueAtTime(0, t + 0.8);
  }, 2000);
  return {
    stop(): void {
      clearInterval(timer);
      tone.stop();
      void context.close().catch(() => undefined);
    },
  };
}

