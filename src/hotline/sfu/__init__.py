"""The embedded SFU: pure forwarding logic (rtp, forwarding) and its I/O edge."""
