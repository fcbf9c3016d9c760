"""The call page's build is reproducible: two builds of the same sources, in two checkouts at
different paths, give byte-identical bundles, and the bundle ``make web`` installed is that
same bundle (so its hash can be compared with anyone's own build).

The build (web/scripts/build-app.mjs) runs here twice, in two copies of web/ (sources,
scripts, lockfile; node_modules hard-linked), at paths of different names and depths.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"


def _build(checkout: Path) -> tuple[dict[str, bytes], str]:
    web = checkout / "web"
    web.mkdir(parents=True)
    for name in ("src", "scripts"):
        shutil.copytree(WEB / name, web / name)
    for name in ("package.json", "package-lock.json", "tsconfig.json"):
        shutil.copy2(WEB / name, web / name)
    shutil.copytree(WEB / "node_modules", web / "node_modules", symlinks=True,
                    copy_function=os.link)
    done = subprocess.run(["node", "scripts/build-app.mjs"], cwd=web, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    match = re.search(r"bundle (sha256:[0-9a-f]{64})", done.stdout)
    assert match, done.stdout
    out = web / "dist" / "app"
    return {p.name: p.read_bytes() for p in sorted(out.iterdir())}, match.group(1)


def test_two_builds_are_byte_identical(tmp_path: Path) -> None:
    if not (WEB / "node_modules" / "esbuild").is_dir():
        pytest.fail("web/node_modules is missing: run `make setup`")
    first, first_hash = _build(tmp_path / "a")
    second, second_hash = _build(tmp_path / "elsewhere" / "deeper" / "b")
    assert sorted(first) == ["app.css", "index.html", "main.js", "main.js.map", "manifest.txt",
                             "transform-worker.js", "transform-worker.js.map"]
    differ = [name for name in first if first[name] != second.get(name)]
    assert differ == [], f"files that differ between two builds: {differ}"
    assert first_hash == second_hash == "sha256:" + hashlib.sha256(
        first["manifest.txt"]).hexdigest()
    for name, data in first.items():  # no path of the checkout leaks into the bundle
        assert str(tmp_path).encode() not in data, name
    installed = WEB / "dist" / "app" / "manifest.txt"
    assert installed.is_file(), "run `make web`"
    assert installed.read_bytes() == first["manifest.txt"], (
        "web/dist/app is not the build of these sources: run `make web`")
