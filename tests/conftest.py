"""Shared test settings: hypothesis profiles and the vectors folder."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# The relay tests' fixtures: a real coturn and blackhole rules (tests/support/coturn.py).
from .support.coturn import coturn as coturn
from .support.coturn import firewall as firewall

VECTORS = Path(__file__).parent / "vectors"

settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "ci", max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
# `make soak`: ten times the examples of CI for every fuzz test (see docs/reliability.md).
settings.register_profile(
    "soak", max_examples=2000, deadline=None, suppress_health_check=list(HealthCheck),
)
settings.load_profile(os.environ.get("HOTLINE_HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI") else "default"))


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    return VECTORS


def only_loopback() -> bool:
    """True inside a network namespace whose only interface is ``lo``."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


@pytest.fixture
def loopback_netns() -> None:
    """Tests that start ICE/WebRTC or a browser run only where no traffic can leave
    the machine."""
    if not only_loopback():
        pytest.fail("this test starts ICE/WebRTC or a browser and must run in a loopback-only "
                    "network "
                    "namespace: run it through `make test`, or prefix the command with "
                    "scripts/in-loopback-netns.sh")
