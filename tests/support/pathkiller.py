"""Kill a path in the kernel: blackhole routing rules for one 127.x address (both
directions), in the test's own network namespace (no netem on these machines)."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest


def ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=False)


class PathKiller:
    """Blackhole routing rules for one 127.x address (both directions). The ``local``
    table's rule moves from priority 0 to 100 so that the blackhole rules come first."""

    def __init__(self) -> None:
        self.dead: set[str] = set()

    def setup(self) -> None:
        added = ip("rule", "add", "pref", "100", "table", "local")
        # The suite runs in a namespace of its own (scripts/in-loopback-netns.sh), where
        # it may change routing: failing to is an error, not a reason to skip.
        assert added.returncode == 0, f"cannot change routing rules (ip rule): {added.stderr}"
        ip("rule", "del", "pref", "0")

    def kill(self, address: str) -> None:
        for pref, where in (("1", "from"), ("2", "to")):
            done = ip("rule", "add", where, address, "blackhole", "pref", pref)
            assert done.returncode == 0, done.stderr
        self.dead.add(address)

    def restore(self, address: str) -> None:
        for pref in ("1", "2"):
            ip("rule", "del", "pref", pref)
        self.dead.discard(address)

    def teardown(self) -> None:
        for a in list(self.dead):
            self.restore(a)
        ip("rule", "add", "pref", "0", "table", "local")
        ip("rule", "del", "pref", "100")


@pytest.fixture
def path_killer() -> Iterator[PathKiller]:
    killer = PathKiller()
    killer.setup()
    try:
        yield killer
    finally:
        killer.teardown()
