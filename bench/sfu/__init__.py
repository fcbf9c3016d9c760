"""SFU forwarding benchmark: one load generator, two adapters (Hotline and Janus)."""
