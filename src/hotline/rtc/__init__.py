"""WebRTC plumbing on aiortc, shared by the SFU and the Python client.

This package is the only place that touches aiortc's, aioice's or pylibsrtp's private
parts, each one listed and checked in :mod:`.aiortc_internals` (:func:`check_internals`):

* :mod:`.aiortc_adapter`: ICE host candidates (and loopback-only ICE), consent timing,
  MAX_BUNDLE, SDP details, socket buffers;
* :mod:`.raw_media`: the SFU's raw media path (SRTP straight from and to the ICE sockets);
* :mod:`.batch_reads`: ICE sockets read in batches, not one datagram per event-loop turn;
* the Python client's frame encryption around aiortc's codecs: :mod:`.media_e2ee` (one
  per call, hooking the pieces into aiortc), :mod:`.e2ee_sender` (encoders, VP8 rate),
  :mod:`.stream_decryptor` (one incoming stream), :mod:`.decoder_hook` (aiortc's decoder
  queue and decoders), :mod:`.e2ee_stats` (codecs protected, counters);
* :mod:`.jitter`: a jitter buffer that gives up lost packets;
* :mod:`.opus_fec`: Opus in-band FEC (SDP, encoder) and a libopus decoder that uses it
  and conceals losses (hooked in by :mod:`.decoder_hook`).
"""

from __future__ import annotations


def check_internals() -> None:
    """Raise if the installed aiortc/aioice/pylibsrtp lack anything this package hooks."""
    from hotline.rtc import aiortc_internals

    aiortc_internals.check_internals()
