/**
 * The browser's end of a hotline link test (docs/SIGNALING.md "Link tests"): on its own
 * signaling connection (same device key), join the test's room with `hotline_join`,
 * send the synthetic pattern and tone (never the camera or microphone) end-to-end
 * encrypted for the test's duration, measure, leave, and return the figures the standby
 * connection reports with `linktest_report`. A failure is a result (the figures say
 * what failed), never an exception. Also returns the far end's identity key as seen in
 * the call (the one other verified member; NO_KEY if not exactly one), which the signed
 * report names (crypto/linkreport.ts).
 *
 * `start.path` names the path under test: "sfu" (publish to the SFU and subscribe), or
 * "direct" (the same room, keys and group code, but media sent and received only on a
 * direct connection to the far end, app/directpath.ts, nothing published to the SFU; its
 * figures from that connection). "relay" is not tested by this page yet (a failed result
 * that says so).
 */

import type { Identity } from "../crypto/identity.js";
import { equal } from "../crypto/bytes.js";
import { NO_KEY } from "../crypto/linkreport.js";
import { MediaE2EE } from "../media/pipeline.js";
import type { DirectFrom, LinkTestFigures, LinkTestStart, MediaRestarted, SubscribeOffer } from "../protocol/messages.js";
import { checkHotlineRoom } from "../protocol/hotlinerooms.js";
import { SignalingClient } from "../protocol/signaling.js";
import { DirectConnection } from "./directpath.js";
import { alarm, trust } from "./trustui.js";
import { gathered } from "./negotiation.js";
import { rtcConfiguration } from "./pathlabel.js";
import { mirrorKeys } from "./keys.js";
import { serverUrl, workerUrl } from "./provenance.js";
import { statSum } from "./quality.js";
import { syntheticMedia } from "./synthetic.js";
import { message, sleep } from "./view.js";

const SETUP_TIMEOUT_MS = 15000;
const POLL_MS = 100;

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function statValues(report: RTCStatsReport, type: string, field: string): number[] {
  const out: number[] = [];
  report.forEach((s: Record<string, unknown>) => {
    if (s["type"] === type && typeof s[field] === "number") out.push(s[field] as number);
  });
  return out;
}

/** The identity key of the one other verified member, NO_KEY if there is not one. */
function farKey(client: SignalingClient): Uint8Array {
  const keys = (client.schedule?.members ?? []).map((p) => client.identityKeys.get(p)).filter((k) => k !== undefined);
  return keys.length === 1 ? keys[0]! : NO_KEY;
}

/** The direct connection of a link test of the direct path: to the one other member once
 * its keys are in, sending only there (the worker's active path is "direct"). */
async function directConnection(
  client: SignalingClient, e2ee: MediaE2EE, stream: MediaStream, started: number, fail: (text: string) => void,
): Promise<DirectConnection> {
  if (!client.directAllowed) throw new Error("the server does not allow a direct connection in this test's room");
  await e2ee.setActivePath("direct");
  const early: DirectFrom[] = []; // the far end may offer before we are ready
  let conn: DirectConnection | null = null;
  client.onDirect = (m) => {
    if (conn !== null) conn.signal(m);
    else if (early.length < 64) early.push(m);
  };
  for (;;) {
    const others = client.schedule?.members ?? [];
    if (others.length === 1) break;
    if (performance.now() - started > SETUP_TIMEOUT_MS) throw new Error("the far end did not join");
    await sleep(POLL_MS);
  }
  const far = client.schedule!.members[0]!;
  const [audio, video] = [stream.getAudioTracks()[0], stream.getVideoTracks()[0]];
  if (audio === undefined || video === undefined) throw new Error("no synthetic media");
  const made: DirectConnection = new DirectConnection(e2ee, client, far, { audio, video }, fail);
  conn = made;
  for (const m of early.splice(0)) made.signal(m);
  return made;
}

export async function takePart(identity: Identity, start: LinkTestStart): Promise<{ figures: LinkTestFigures; farKey: Uint8Array }> {
  const started = performance.now();
  const since = (): number => round(performance.now() - started);
  const media = syntheticMedia();
  // the far end must be one of the hotline's pins in this browser (else: refused, alarm)
  const client = new SignalingClient(serverUrl(), identity, { trust: trust.policy.forHotline(start.hotline) });
  client.onEvent.add((e) => {
    if (e.kind !== "pin_mismatch") return;
    const text = String(e.data["message"] ?? "");
    failure ??= text;
    alarm(text);
  });
  let failure: string | null = null;
  const e2ee = new MediaE2EE({ workerUrl: workerUrl(), onFatal: (e) => { failure ??= `E2EE: ${e.message}`; } });
  let setupMs: number | null = null;
  let firstFrameMs: number | null = null;
  let groupCode = "";
  let seen: Uint8Array = NO_KEY;
  let publish: RTCPeerConnection | null = null;
  let subscribe: RTCPeerConnection | null = null;
  let direct: DirectConnection | null = null;
  let offers = Promise.resolve();
  const figures = async (error: string): Promise<LinkTestFigures> => {
    let video = 0;
    let audio = 0;
    let failed = 0;
    try {
      const c = await e2ee.counters();
      video = c.totals["recv/video"]?.framesOut ?? 0;
      audio = c.totals["recv/audio"]?.framesOut ?? 0;
      for (const key of ["recv/video", "recv/audio"]) {
        for (const [reason, n] of Object.entries(c.totals[key]?.failures ?? {})) if (reason !== "empty") failed += n;
      }
    } catch {
      // the worker is gone: no frames to count
    }
    let rtt: number | null = null;
    let loss: number | null = null;
    let jitter: number | null = null;
    const sending: RTCPeerConnection | null = direct?.pc ?? publish;
    const receiving: RTCPeerConnection | null = direct?.pc ?? subscribe;
    if (sending !== null) {
      const rtts = statValues(await sending.getStats(), "remote-inbound-rtp", "roundTripTime");
      if (rtts.length) rtt = round(Math.max(...rtts) * 1000, 2);
    }
    if (receiving !== null) {
      const report = await receiving.getStats();
      const got = statSum(report, "inbound-rtp", "packetsReceived");
      const lost = Math.max(0, statSum(report, "inbound-rtp", "packetsLost"));
      if (got + lost > 0) loss = round(lost / (got + lost), 4);
      const jitters = statValues(report, "inbound-rtp", "jitter");
      if (jitters.length) jitter = round(Math.max(...jitters) * 1000, 2);
    }
    return {
      joined: client.participantId !== null || setupMs !== null, setup_ms: setupMs, first_frame_ms: firstFrameMs,
      video_frames: video, audio_frames: audio, decrypt_failures: failed, rtt_ms: rtt, loss, jitter_ms: jitter,
      group_code: groupCode, error: error.slice(0, 200),
    };
  };
  try {
    // the relay path through TURN only; the SFU path never through TURN (no fallback)
    const config = (): RTCConfiguration => start.path === "relay" ? rtcConfiguration(client.iceServers, true) : { iceServers: [] };
    await client.connect();
    await client.authenticate();
    client.onKeyActions = (actions) => mirrorKeys(e2ee, actions, (e) => { failure ??= `key refused: ${message(e)}`; });
    const attributed = new Map<string, number>(); // mid -> participant, from the offers
    client.onSubscribeOffer = (offer: SubscribeOffer | MediaRestarted) => {
      if (offer.type === "media_restarted") return; // a link test never asks for one
      offers = offers.then(async () => {
        for (const s of offer.streams) attributed.set(s.mid, s.participant_id);
        if (subscribe === null) {
          subscribe = new RTCPeerConnection(config());
          // each stream bound to the participant the offer names (frames of anyone else dropped)
          e2ee.watch(subscribe, (event) => attributed.get(event.transceiver.mid ?? "") ?? -1);
        }
        await subscribe.setRemoteDescription({ type: "offer", sdp: offer.sdp });
        await subscribe.setLocalDescription(await subscribe.createAnswer());
        await gathered(subscribe);
        client.answerSubscription(subscribe.localDescription!.sdp);
      }).catch((e: unknown) => { failure ??= `subscribe: ${message(e)}`; });
    };
    const room = checkHotlineRoom(start.room, start.hotline, start.test_id); // derived, not the server's pick
    await client.join(room, SETUP_TIMEOUT_MS / 1000, { type: "hotline_join", call_id: start.test_id });
    if (client.pinFailure !== null) throw client.pinFailure; // nothing was sealed to it
    const watch = (pc: RTCPeerConnection, what: string): void => pc.addEventListener("connectionstatechange", () => {
      if (pc.connectionState === "connected" && setupMs === null) setupMs = since();
      if (pc.connectionState === "failed") failure ??= `the ${what} connection failed`;
    });
    if (start.path === "direct") {
      direct = await directConnection(client, e2ee, media.stream, started, (text) => { failure ??= text; });
      watch(direct.pc, "direct media");
      direct.start();
    } else {
      const pc = new RTCPeerConnection(config());
      publish = pc;
      for (const track of [...media.stream.getAudioTracks(), ...media.stream.getVideoTracks()]) {
        e2ee.addTransceiver(pc, track, { direction: "sendonly", streams: [media.stream] });
      }
      watch(pc, "media connection to the server");
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc);
      await pc.setRemoteDescription({ type: "answer", sdp: await client.publish(pc.localDescription!.sdp) });
    }
    const end = started + start.duration_s * 1000;
    while (performance.now() < end && failure === null) {
      await sleep(POLL_MS);
      // who is at the far end, with or without media (a test whose media did not flow
      // still names it; read only at the end, it could race the far end's leave)
      if (equal(seen, NO_KEY)) seen = farKey(client);
      if (firstFrameMs === null) {
        const c = await e2ee.counters();
        if ((c.totals["recv/video"]?.framesOut ?? 0) + (c.totals["recv/audio"]?.framesOut ?? 0) > 0) {
          firstFrameMs = since();
          seen = farKey(client);
        }
      }
      // Both ends in the call: the code of the pair, once its reveals are in (not pending).
      if (firstFrameMs !== null && groupCode === "") groupCode = client.code?.digits ?? "";
    }
    return { figures: await figures(failure ?? (firstFrameMs === null ? "no frame of the far end decrypted" : "")), farKey: seen };
  } catch (error) {
    return { figures: await figures(failure ?? message(error)), farKey: seen };
  } finally {
    media.stop();
    if (client.participantId !== null) await Promise.race([client.leave().catch(() => undefined), sleep(2000)]);
    publish?.close();
    (subscribe as RTCPeerConnection | null)?.close();
    (direct as DirectConnection | null)?.close();
    e2ee.close();
    client.close();
  }
}
