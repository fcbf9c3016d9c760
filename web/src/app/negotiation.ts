/**
 * What the page's media connections negotiate: only the MID header extension, and an
 * offer or answer sent once ICE gathering completed (or after GATHER_TIMEOUT_MS).
 */

const GATHER_TIMEOUT_MS = 5000;
const MID_URI = "urn:ietf:params:rtp-hdrext:sdes:mid";

interface HeaderExtensionCapability {
  readonly uri: string;
  readonly direction: string;
}

type WithHeaderExtensionControl = RTCRtpTransceiver & {
  getHeaderExtensionsToNegotiate?: () => HeaderExtensionCapability[];
  setHeaderExtensionsToNegotiate?: (extensions: HeaderExtensionCapability[]) => void;
};

/**
 * Offer no RTP header extension but the MID: clear-text audio levels would tell who
 * speaks when, which end-to-end encryption should not leak, and the SFU forwards only
 * what both ends negotiated. (Chromium's header extension control API; without it, the
 * browser's defaults are offered and the SFU renumbers or drops them.)
 */
export function onlyMidExtension(transceiver: RTCRtpTransceiver): void {
  const t = transceiver as WithHeaderExtensionControl;
  if (t.getHeaderExtensionsToNegotiate === undefined || t.setHeaderExtensionsToNegotiate === undefined) return;
  t.setHeaderExtensionsToNegotiate(t.getHeaderExtensionsToNegotiate().map((e) => ({
    ...e, direction: e.uri === MID_URI ? e.direction : "stopped",
  })));
}

export function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      if (pc.iceGatheringState !== "complete") return;
      pc.removeEventListener("icegatheringstatechange", done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener("icegatheringstatechange", done);
      resolve(); // send what we have
    }, GATHER_TIMEOUT_MS);
    pc.addEventListener("icegatheringstatechange", done);
  });
}
