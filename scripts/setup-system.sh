#!/usr/bin/env bash
# Installs the Debian packages osc-player needs for the demo (runtime) or for the tests (test).
# Idempotent: apt-get runs only when something is missing. Runs as root, or through sudo.
set -euo pipefail
what="${1:-runtime}"

runtime=(libvlc5 libvlc-dev vlc-plugin-base vlc-plugin-video-output fonts-dejavu-core
         libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-render-util0
         libxcb-image0 libxcb-randr0 libxcb-xinerama0 libegl1 libgl1 libfontconfig1 libdbus-1-3 xvfb x11-utils)
testing=(ffmpeg zbar-tools xdotool systemd shellcheck postgresql postgresql-15-postgis-3 debootstrap rabbitmq-server)

pkgs=("${runtime[@]}")
[ "$what" = "test" ] && pkgs+=("${testing[@]}")
if ! command -v python3 >/dev/null || ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
  pkgs+=(python3 python3-venv)
fi
command -v node >/dev/null || { [ "$what" = "test" ] && pkgs+=(nodejs npm); }

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing system packages: ${missing[*]}"
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
