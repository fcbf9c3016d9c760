"""The Hotline server: storage now; the aiohttp app, signaling and SFU come next."""
