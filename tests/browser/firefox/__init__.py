"""Debian's Firefox ESR for the browser tests: the driver (driver.mjs, WebDriver BiDi
through npm puppeteer-core), its Python side with Playwright's Page API (engine.py), and
the test namespace's own address that Firefox needs for ICE (network.py)."""
