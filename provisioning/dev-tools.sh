#!/usr/bin/env bash
# Install the tools that tests/test_systemd_units.py and tests/test_provisioning.py need:
#   - shellcheck, systemd-analyze (package systemd), debootstrap (slow chroot test) from Debian packages
#   - ansible-core + ansible-lint in a SEPARATE virtualenv (never the project venv)
# Usage: provisioning/dev-tools.sh [TOOLS_VENV]   (default: /work/tools-venv, or $OSC_TOOLS_VENV)
# Idempotent: re-running only installs what is missing.
set -euo pipefail

TOOLS_VENV="${1:-${OSC_TOOLS_VENV:-/work/tools-venv}}"
SUDO=""
if [[ "$(id -u)" -ne 0 ]]; then
    SUDO="sudo"
fi

missing=()
command -v shellcheck >/dev/null 2>&1 || missing+=(shellcheck)
command -v systemd-analyze >/dev/null 2>&1 || missing+=(systemd)
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)

if [[ ${#missing[@]} -gt 0 ]]; then
    echo "dev-tools: installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if [[ ! -x "$TOOLS_VENV/bin/ansible-lint" || ! -x "$TOOLS_VENV/bin/ansible-playbook" ]]; then
    echo "dev-tools: creating tools venv $TOOLS_VENV with ansible-core and ansible-lint"
    python3 -m venv "$TOOLS_VENV"
    "$TOOLS_VENV/bin/pip" install -q --upgrade pip
    "$TOOLS_VENV/bin/pip" install -q ansible-core ansible-lint
fi

echo "dev-tools: ok (shellcheck, systemd-analyze, debootstrap, $TOOLS_VENV/bin/ansible-playbook, ansible-lint)"
echo "dev-tools: tests find the ansible tools via OSC_TOOLS_VENV=$TOOLS_VENV or PATH"
