#!/usr/bin/env bash
# `make demo`: the player on its built-in demo content. With a display: a window (Esc closes it).
# Without one (a server, a container): the demo runs on a virtual X screen for a while and a screenshot is saved.
set -euo pipefail
venv="${VENV:-.venv}"
if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec "$venv/bin/osc-player" demo --windowed 1280x720
fi
echo "no display found: running the demo on a virtual screen (Xvfb) for ${DEMO_SECONDS:-20} s"
mkdir -p out
xvfb-run -a -s "-screen 0 1920x1080x24" "$venv/bin/osc-player" demo --exit-after "${DEMO_SECONDS:-20}"
"$venv/bin/osc-player" preview --source player/demo --at "$(date -Iseconds)" --out out/demo.png
echo "a picture of what the screen shows now: out/demo.png"
