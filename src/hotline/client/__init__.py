"""The Python client: media end-to-end encryption on aiortc, signalling and calls."""
