#!/usr/bin/env bash
# Prepare a Debian 12 machine (CI runner or dev box) for the osc-player integration tests against a real hub:
# PostgreSQL 15 + PostGIS 3, Node.js (>= 20.19 for parse-server 9) and the pinned npm packages in tests/hub.
# Idempotent: installs only what is missing. Run as root (or with sudo). Starts no service: the tests start their
# own private PostgreSQL cluster and Parse Server (tests/hubserver.py).
set -euo pipefail

HUB_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE_MIN_MAJOR=20
NODE_MIN_MINOR=19

log() { printf 'setup.sh: %s\n' "$*"; }
die() { printf 'setup.sh: ERROR: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "run as root (apt-get needs it)"
    SUDO="sudo"
fi

missing_debs=()
need_deb() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || missing_debs+=("$1"); }

need_deb postgresql-15
need_deb postgresql-client-15
need_deb postgresql-15-postgis-3
need_deb util-linux          # runuser: PostgreSQL must not run as root
if ! command -v node >/dev/null 2>&1; then
    need_deb nodejs
    need_deb npm
elif ! command -v npm >/dev/null 2>&1; then
    # Debian's npm package would pull in Debian's nodejs 18 next to the machine's own node
    die "node is installed but npm is not; install npm for that Node.js (it normally ships with it)"
fi

if [ "${#missing_debs[@]}" -gt 0 ]; then
    log "installing ${missing_debs[*]}"
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update -q
    $SUDO apt-get install -y -q --no-install-recommends "${missing_debs[@]}"
else
    log "Debian packages present"
fi

# The tests run their own cluster; the Debian package's default cluster is not needed and is left as it is.

node_version="$(node --version)"          # e.g. v20.20.2
node_version="${node_version#v}"
node_major="${node_version%%.*}"
node_minor="${node_version#*.}"; node_minor="${node_minor%%.*}"
if [ "$node_major" -lt "$NODE_MIN_MAJOR" ] || { [ "$node_major" -eq "$NODE_MIN_MAJOR" ] && [ "$node_minor" -lt "$NODE_MIN_MINOR" ]; }; then
    die "Node.js $node_version is too old: parse-server 9 (tests/hub/package.json) needs >= $NODE_MIN_MAJOR.$NODE_MIN_MINOR.
  Debian 12's own nodejs package is 18.x; install Node.js 20 LTS (e.g. from your distribution's backports or the
  NodeSource packages) or pin parse-server 8.x in tests/hub/package.json (runs on Node 18)."
fi
log "Node.js $node_version, npm $(npm --version)"

cd "$HUB_DIR"
# npm ci: exactly the committed lock file. Skip when node_modules already matches it.
stamp="node_modules/.osc-lock.sha256"
lock_sum="$(sha256sum package-lock.json package.json | sha256sum | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$lock_sum" ] && [ -d node_modules/parse-server ]; then
    log "node_modules up to date"
else
    log "npm ci in $HUB_DIR"
    npm ci --no-audit --no-fund --ignore-scripts   # their install scripts only print notices
    printf '%s\n' "$lock_sum" > "$stamp"
fi

node -e "require('parse-server'); require('@parse/fs-files-adapter'); require('ws')" \
    || die "npm packages in $HUB_DIR do not load"
test -f /usr/share/postgresql/15/extension/postgis.control || die "PostGIS extension files missing"
log "ready: run the hub tests with  .venv/bin/pytest -m hub tests/integration"
