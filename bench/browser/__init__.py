"""Benchmarks of the browser client in headless Chromium driven by Playwright.

* :mod:`bench.browser.sframe`: SFrame encrypt/decrypt per frame and suite, page and worker,
  next to the Python figures;
* :mod:`bench.browser.join`: join -> first decrypted and decoded frame, 20+ enrollment-free
  rejoins from the room list and 20+ from a page load;
* :mod:`bench.browser.glass`: glass-to-glass latency browser -> SFU -> browser, from a
  time code drawn into the sender's video to the receiver's decoded pixels.

``python -m bench.browser`` runs all three (``make bench-browser``, inside the
loopback-only namespace); each module also runs on its own.
"""
