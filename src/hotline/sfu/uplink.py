"""The SFU's estimate of each publisher's uplink, sent to it as REMB. PURE.

After GCC's loss-based controller (draft-ietf-rmcat-gcc-02 §6), fed with what the SFU
receives of all the publisher's streams (audio and video share the uplink): over each
interval of at least ESTIMATE_INTERVAL, loss above LOSS_HIGH cuts the estimate to the
video rate received times (1 - loss / 2); loss below LOSS_LOW raises it by
ESTIMATE_GROWTH a second (GCC: 1.05; faster here, so that video is back within 10 s
after congestion ends); in between it holds.
"""

from __future__ import annotations

from hotline.sfu import rtp

ESTIMATE_INTERVAL = 0.5
LOSS_HIGH = 0.10
LOSS_LOW = 0.02
ESTIMATE_GROWTH = 1.25
#: Random loss (a lossy link, not a full one) is told apart from congestion: the loss
#: of intervals that were not congested is averaged (this weight per interval), and
#: LOSS_HIGH and LOSS_LOW count above that average.
BASELINE_WEIGHT = 0.2
#: After a cut, the video rate that overflowed the uplink is remembered as its ceiling
#: for CEILING_MEMORY seconds without loss; near it (above CEILING_NEAR of it) the
#: estimate grows by CEILING_GROWTH only, so that it does not probe into loss (and cost
#: audio) every other second. (GCC does the same with its "near max" additive increase.)
CEILING_MEMORY = 3.0
CEILING_NEAR = 0.7
CEILING_GROWTH = 1.02
MIN_VIDEO_BITRATE = 50_000
MAX_VIDEO_BITRATE = 1_500_000  # above this the estimate no longer limits anything


class UplinkEstimate:
    """What a publisher's uplink carries, estimated from the loss the SFU sees on the
    publisher's streams and the video bitrate it receives. ``bitrate`` (for the video) is
    None while loss has never been high, or once it grew past MAX_VIDEO_BITRATE: no
    limit. ``congested``: the last interval's loss was congestion (not the link's usual
    loss)."""

    def __init__(self) -> None:
        self.bitrate: float | None = None
        self.congested = False
        self.loss = 0.0  # over the last interval
        self.video_rate = 0.0  # bit/s received, over the last interval
        self.baseline = 0.0  # average loss of the intervals without congestion
        self.ceiling: float | None = None  # the video rate at the last overflow
        self._quiet = 0.0  # seconds since the loss was last high
        self._at: float | None = None
        self._expected = 0
        self._received = 0
        self._video_bytes = 0

    def update(self, expected: int, received: int, video_bytes: int,
               now: float) -> float | None:
        """Call often, with the running totals over all the publisher's streams: packets
        expected (by sequence number), packets received the first time, bytes of video
        received. The estimate moves once per ESTIMATE_INTERVAL."""
        if self._at is None:
            self._at, self._expected, self._received = now, expected, received
            self._video_bytes = video_bytes
            return self.bitrate
        elapsed = now - self._at
        if elapsed < ESTIMATE_INTERVAL:
            return self.bitrate
        n_expected = expected - self._expected
        n_lost = n_expected - (received - self._received)
        self.loss = max(0.0, n_lost / n_expected) if n_expected > 0 else 0.0
        self.video_rate = (video_bytes - self._video_bytes) * 8 / elapsed
        self._at, self._expected, self._received = now, expected, received
        self._video_bytes = video_bytes
        # Loss well above the link's usual (random) loss is congestion; the usual loss
        # itself is not: a lossy radio link must not drive the video down to nothing.
        self.congested = self.loss > LOSS_HIGH + self.baseline
        if self.congested:
            cut = max(MIN_VIDEO_BITRATE, self.video_rate * (1 - self.loss / 2))
            self.bitrate = cut if self.bitrate is None else min(self.bitrate, cut)
            self.ceiling = self.video_rate
            self._quiet = 0.0
            return self.bitrate
        self.baseline += BASELINE_WEIGHT * (self.loss - self.baseline)
        self._quiet += elapsed
        if self.ceiling is not None and self._quiet >= CEILING_MEMORY:
            self.ceiling = None
        if self.loss < LOSS_LOW + self.baseline and self.bitrate is not None:
            near = self.ceiling is not None and self.bitrate >= CEILING_NEAR * self.ceiling
            self.bitrate *= (CEILING_GROWTH if near else ESTIMATE_GROWTH) ** elapsed
            if self.bitrate > MAX_VIDEO_BITRATE:
                self.bitrate = None
        return self.bitrate


def aggregate_remb(video_ssrcs: list[int], limit: float | None) -> bytes | None:
    """The REMB for a publisher of these video streams: ``limit``, the SFU's own estimate
    of the publisher's uplink (None: no REMB).

    Subscribers' REMBs are kept (``ForwardedCopy.remb``) but no longer passed on. An
    aiortc subscriber estimates the whole path from the publisher (abs-send-time is the
    publisher's), so its REMB also fell when the publisher's uplink was congested, and
    after the congestion it grew back additively (about 28 kbit/s per second): relayed,
    it held the publisher's video down for 20 s and more. The SFU estimates the uplink
    itself and raises its estimate by 25 % a second once loss is gone."""
    if limit is None or not video_ssrcs:
        return None
    return rtp.remb(rtp.SFU_SSRC, int(limit), video_ssrcs)
