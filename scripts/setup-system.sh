#!/usr/bin/env bash
# Make sure the system can build Hotline's venv; install what is missing when root.
set -euo pipefail
python=${1:-python3}

die() { echo "error: $*" >&2; exit 1; }
apt_install() {
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null; then
    die "missing system packages: $*; install them (as root: apt-get install $*)"
  fi
  echo "installing system packages: $*"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

command -v "$python" >/dev/null || apt_install python3
"$python" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' \
  || die "Hotline needs Python 3.11 or newer ($python is $("$python" -V 2>&1))"
"$python" -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
command -v ip >/dev/null || apt_install iproute2          # the tests' loopback-only namespace
command -v unshare >/dev/null || apt_install util-linux
