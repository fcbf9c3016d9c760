#!/usr/bin/env bash
# Run a command in a network namespace that has only loopback (127.0.0.0/8 up), so
# that tests starting ICE/WebRTC can never send traffic anywhere else.
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: $0 COMMAND [ARGS...]" >&2; exit 2; }
command -v ip >/dev/null || { echo "error: 'ip' (iproute2) is needed for the test namespace" >&2; exit 1; }
if [ "$(ip -o link show | awk -F': ' '{print $2}')" = "lo" ]; then
  exec "$@"   # already in one
fi
inner='ip link set lo up && exec "$@"' 
if [ "$(id -u)" -eq 0 ] && unshare -n true 2>/dev/null; then
  exec unshare -n sh -c "$inner" _ "$@"
fi
if unshare -rn true 2>/dev/null; then
  exec unshare -rn sh -c "$inner" _ "$@"
fi
echo "error: cannot create a loopback-only network namespace (needs root or user namespaces)" >&2
exit 1
