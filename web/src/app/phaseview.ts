/**
 * The call's phase in the page (REQUIREMENTS L3; docs/SIGNALING.md "Phases"):
 * `#call-phase` shows OPEN or CLOSED for everyone, with a line in `#phase-log` at each
 * change; a press seat sees `#closed-screen` in the closed part (it stays connected);
 * principals and operators have `#phase-close` and `#phase-reopen` (a reopening is
 * signed with this device's non-extractable key: SignalingClient.setPhase). A reopening
 * the server claims without a principal's valid proof is not shown: an alarm is.
 */

import type { ClientEvent, SignalingClient } from "../protocol/signaling.js";
import { alarm } from "./trustui.js";
import { $, message, state } from "./view.js";

const CLOSED_OUT = new Set(["press"]);
const MAY_SET_PHASE = new Set(["principal", "operator"]);

export class PhaseControls {
  private readonly abort = new AbortController();

  constructor(private readonly client: SignalingClient, private readonly notice: (text: string) => void) {
    const may = MAY_SET_PHASE.has(client.role);
    for (const [id, phase] of [["phase-close", "closed"], ["phase-reopen", "open"]] as const) {
      const button = $(id) as HTMLButtonElement;
      button.hidden = !may;
      button.addEventListener("click", () => void this.set(phase), { signal: this.abort.signal });
    }
    state.callPhase = { phase: client.phases.phase, changes: [], alarms: [] };
    $("phase-log").replaceChildren();
    this.render();
  }

  /** Handles the phase events of the client; true if `e` was one. */
  onEvent(e: ClientEvent): boolean {
    if (e.kind === "phase") {
      const phase = String(e.data["phase"]);
      state.callPhase.changes.push({ phase, atMs: performance.now() });
      const by = Number(e.data["by"]);
      const who = by === 0 ? "an operator" : (this.client.names.get(by) ?? `participant ${by}`);
      const at = new Date().toISOString().slice(11, 19);
      const text = phase === "closed"
        ? `${at} CLOSED by ${who}: the press is shown out`
        : `${at} OPEN again, reopened by ${who}: the press sees and hears the call`;
      const item = document.createElement("li");
      item.textContent = text;
      $("phase-log").append(item);
      console.info(`phase: ${text}`);
      this.render();
      return true;
    }
    if (e.kind === "phase_alarm") {
      const text = String(e.data["message"]);
      state.callPhase.alarms.push(text);
      alarm(text);
      return true;
    }
    return false;
  }

  private async set(phase: "open" | "closed"): Promise<void> {
    for (const id of ["phase-close", "phase-reopen"]) ($(id) as HTMLButtonElement).disabled = true;
    try {
      await this.client.setPhase(phase);
    } catch (error) {
      this.notice(`Could not ${phase === "closed" ? "close" : "reopen"} the call: ${message(error)}`);
    } finally {
      this.render();
    }
  }

  private render(): void {
    const phase = this.client.phases.phase;
    state.callPhase.phase = phase;
    const shown = $("call-phase");
    shown.textContent = phase.toUpperCase();
    shown.dataset["phase"] = phase;
    const shownOut = phase === "closed" && CLOSED_OUT.has(this.client.role);
    $("closed-screen").hidden = !shownOut;
    $("tiles").hidden = shownOut; // their last frames would stay frozen there
    ($("phase-close") as HTMLButtonElement).disabled = phase === "closed";
    ($("phase-reopen") as HTMLButtonElement).disabled = phase === "open";
  }

  close(): void {
    this.abort.abort();
    $("closed-screen").hidden = true;
    $("tiles").hidden = false;
    for (const id of ["phase-close", "phase-reopen"]) ($(id) as HTMLButtonElement).hidden = true;
    $("call-phase").textContent = "OPEN";
    $("call-phase").dataset["phase"] = "open";
  }
}
