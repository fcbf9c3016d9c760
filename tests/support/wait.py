"""Waiting in tests: poll a condition until it holds or a timeout passes."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str,
                     interval: float = 0.1) -> float:
    """Poll ``check`` every ``interval`` s until it is true; returns the seconds it took.
    Fails (AssertionError naming ``what``) after ``timeout`` s."""
    start = time.monotonic()
    while not await check():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(interval)
    return time.monotonic() - start
