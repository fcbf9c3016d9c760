"""WebRTC plumbing on aiortc, shared by the SFU and the Python client.

This package is the only place that touches aiortc's or aioice's private parts:

* :mod:`.aiortc_adapter`: ICE host candidates, MAX_BUNDLE, and the SFU's raw media
  path (SRTP straight from and to the ICE sockets);
* :mod:`.aiortc_e2ee`: the Python client's frame encryption around aiortc's codecs.
* :mod:`.opus_fec`: Opus in-band FEC (SDP, encoder) and a libopus decoder that uses it
  and conceals losses (no aiortc internals of its own; hooked in by ``aiortc_e2ee``).

Each module lists what it hooks and checks it; :func:`check_internals` runs both checks.
"""

from __future__ import annotations


def check_internals() -> None:
    """Raise if the installed aiortc/aioice lack anything this package hooks."""
    from hotline.rtc import aiortc_adapter, aiortc_e2ee

    aiortc_adapter.check_internals()
    aiortc_e2ee.check_aiortc_internals()
