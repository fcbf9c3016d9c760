"""The files generated from the signaling schema (scripts/gen_protocol.py) are up to date,
and the generator refuses a stale one with --check."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hotline.signaling import messages as m

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "gen_protocol.py"


def test_generated_files_match_the_schema() -> None:
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_the_schema_names_every_message_once() -> None:
    schema = json.loads((ROOT / "protocol" / "schema" / "signaling.json").read_text())
    defs = schema["$defs"]
    assert schema["x-maxMessageBytes"] == m.MAX_MESSAGE_BYTES
    types = [defs[r["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["const"]
             for union in ("ClientMessage", "ServerMessage") for r in defs[union]["oneOf"]]
    assert len(types) == len(set(types)) > 40
