"""The TypeScript twin of the trust store runs the same conformance cases
(tests/vectors/trust-v1.json) and the key schedule's trust gating, in Node: the page's
web/src/crypto/truststore.ts and keyschedule.ts, bundled by esbuild (web/node_modules,
as `make web` installs it)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).parents[2]
WEB = ROOT / "web"
VECTORS = ROOT / "tests" / "vectors" / "trust-v1.json"


def test_typescript_trust_store_passes_the_shared_cases(tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is needed (it builds the page too)"
    bundle = tmp_path / "trust_vectors.mjs"
    subprocess.run([str(WEB / "node_modules" / ".bin" / "esbuild"), "test/trust_vectors.ts",
                    "--bundle", "--platform=node", "--format=esm", f"--outfile={bundle}",
                    "--log-level=warning"], cwd=WEB, check=True, timeout=120)
    out = subprocess.run([node, str(bundle), str(VECTORS)], capture_output=True, text=True,
                         timeout=120, check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    cases = json.loads(VECTORS.read_text())
    assert summary["failed"] == 0, summary["failures"]
    assert summary["cases"] == len(cases["cases"])
    # each case twice (verdict, JSON round trip), each invalid print, a paste, 7 schedule checks
    assert summary["passed"] == 2 * len(cases["cases"]) + len(cases["invalid_fingerprints"]) + 1 + 7
    assert summary["schedule"] == "ran"
