"""Signaling: the versioned, typed JSON messages between clients and the server. PURE."""
