#!/usr/bin/env bash
# Make sure the system can build Hotline's venv and web client and run its browser
# tests; install what is missing when root.
set -euo pipefail
python=${1:-python3}

die() { echo "error: $*" >&2; exit 1; }
can_apt() { [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; }
apt_install() {
  can_apt || die "missing system packages: $*; install them (as root: apt-get install $*)"
  echo "installing system packages: $*"
  # The package lists are refreshed only when the install fails without it.
  if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  fi
}

command -v "$python" >/dev/null || apt_install python3
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "Hotline needs Python 3.11 or newer ($python is $("$python" -V 2>&1))"
"$python" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
command -v ip >/dev/null || apt_install iproute2          # the tests' loopback-only namespace
command -v unshare >/dev/null || apt_install util-linux

# The browser client is built with npm (web/package-lock.json): Node 18 or newer.
command -v npm >/dev/null && command -v node >/dev/null || apt_install nodejs npm
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' \
  || die "the web client needs Node.js 18 or newer (node is $(node --version))"

# tests/browser runs Debian's Chromium (HOTLINE_CHROMIUM may name another binary) ...
chromium=${HOTLINE_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$chromium" ]; then
  if can_apt; then
    apt_install chromium fonts-liberation
  else
    echo "warning: no Chromium at $chromium; the browser tests of 'make test' will fail" \
         "(as root: apt-get install chromium fonts-liberation)" >&2
  fi
fi

# The relay (TURN) tests start Debian's coturn themselves; Hotline itself never needs it
# (`make run` is one process without TURN). Only the binary is used: the service that the
# package may enable is left to the operator (docs/OPERATIONS.md).
if ! command -v turnserver >/dev/null; then
  if can_apt; then
    apt_install coturn
  else
    echo "warning: no turnserver; the relay (TURN) tests of 'make test' will fail" \
         "(as root: apt-get install coturn)" >&2
  fi
fi

# Debian's Firefox ESR for the second-engine browser tests (HOTLINE_FIREFOX may name another binary), driven over
# WebDriver BiDi by npm puppeteer-core (web/package.json; it downloads no browser).
firefox=${HOTLINE_FIREFOX:-/usr/bin/firefox-esr}
if [ ! -x "$firefox" ]; then
  if can_apt; then
    apt_install firefox-esr
  else
    echo "warning: no Firefox at $firefox; the Firefox tests of 'make test' will fail" \
         "(as root: apt-get install firefox-esr)" >&2
  fi
fi
