#!/usr/bin/env bash
# osc-player installer for Raspberry Pi OS Bookworm/Trixie (arm64) and Debian 12/13 (amd64).
#
# Idempotent: run it again to update the player or change settings; unchanged files are not rewritten.
#
#   sudo provisioning/install.sh --source /path/to/osc-player \
#        --hub-url https://hub.example.org/parse --app-id CITYAPP --city "Musterstadt" \
#        [--screen-id ID] [--api-key-file FILE] [--power-backend auto] [--timezone Europe/Berlin]
#
# Options:
#   --source DIR          project source tree to install (default: the tree this script is in)
#   --wheel FILE          install this wheel instead of a source tree
#   --hub-url URL         Open SmartCity Hub (Parse Server) URL        -> [hub] url
#   --app-id ID           Parse application id                         -> [hub] app_id
#   --city NAME           city name shown in headers and setup screens -> [player] city
#   --screen-id ID        kept for compatibility; the player makes its own id (UUID) on first start
#   --screen-name NAME    human name of this screen                    -> [player] screen_name
#   --folder DIR          play from a local folder instead of a hub    -> [source] type/path
#   --api-key-file FILE   file holding the hub client key (-> /etc/osc-player/secrets.toml, mode 0600)
#   --power-backend NAME  auto|vcgencmd|wlr-randr|xset|cec|none        -> [display] power_backend
#   --schedule SPEC       display-on windows, "DAYS=WINDOWS;..." e.g. "mon-fri=06:00-22:00;sat=08:00-20:00"
#                         (empty: always on)                          -> [display.power_schedule]
#   --timezone TZ         set the system time zone (e.g. Europe/Berlin)
#   --pyside MODE         auto (wheels, else distribution packages) | wheel | system
#   --no-apt              do not install Debian packages (they must be there already)
#   --no-start            enable the units but do not (re)start them (images, chroots)
#   --dry-run             print what would be done, change nothing
#   -h, --help            this text
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX=/opt/osc-player
VENV="$PREFIX/venv"
CONF_DIR=/etc/osc-player
PLAYER_USER=osc-player

SOURCE=""
WHEEL=""
HUB_URL=""
APP_ID=""
CITY=""
SCREEN_ID=""
SCREEN_NAME=""
FOLDER=""
API_KEY_FILE=""
POWER_BACKEND="auto"
SCHEDULE=""
TIMEZONE=""
PYSIDE_MODE="auto"
DO_APT=1
DO_START=1
DRY_RUN=0
CHANGED_UNITS=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; }
log() { printf 'osc-player install: %s\n' "$*"; }
die() { printf 'osc-player install: ERROR: %s\n' "$*" >&2; exit 1; }

need_value() { [[ $# -ge 2 && -n "$2" ]] || die "$1 needs a value (see --help)"; }

while [[ $# -gt 0 ]]; do
    case "$1" in
        --source) need_value "$@"; SOURCE="$2"; shift 2 ;;
        --wheel) need_value "$@"; WHEEL="$2"; shift 2 ;;
        --hub-url) need_value "$@"; HUB_URL="$2"; shift 2 ;;
        --app-id) need_value "$@"; APP_ID="$2"; shift 2 ;;
        --city) need_value "$@"; CITY="$2"; shift 2 ;;
        --screen-id) need_value "$@"; SCREEN_ID="$2"; shift 2 ;;
        --screen-name) need_value "$@"; SCREEN_NAME="$2"; shift 2 ;;
        --folder) need_value "$@"; FOLDER="$2"; shift 2 ;;
        --api-key-file) need_value "$@"; API_KEY_FILE="$2"; shift 2 ;;
        --power-backend) need_value "$@"; POWER_BACKEND="$2"; shift 2 ;;
        --timezone) need_value "$@"; TIMEZONE="$2"; shift 2 ;;
        --schedule) [[ $# -ge 2 ]] || die "--schedule needs a value"; SCHEDULE="$2"; shift 2 ;;
        --pyside) need_value "$@"; PYSIDE_MODE="$2"; shift 2 ;;
        --no-apt) DO_APT=0; shift ;;
        --no-start) DO_START=0; shift ;;
        --dry-run) DRY_RUN=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option $1 (see --help)" ;;
    esac
done

case "$POWER_BACKEND" in auto|vcgencmd|wlr-randr|xset|cec|none) ;; *) die "--power-backend $POWER_BACKEND is not one of auto|vcgencmd|wlr-randr|xset|cec|none" ;; esac
case "$PYSIDE_MODE" in auto|wheel|system) ;; *) die "--pyside $PYSIDE_MODE is not one of auto|wheel|system" ;; esac
[[ -z "$HUB_URL" || "$HUB_URL" =~ ^https?:// ]] || die "--hub-url $HUB_URL must start with https:// (or http://)"
for value in "$HUB_URL" "$APP_ID" "$CITY" "$SCREEN_ID" "$SCREEN_NAME" "$FOLDER" "$SCHEDULE"; do
    [[ "$value" != *[[:cntrl:]]* ]] || die "value ${value@Q} contains control characters"
done
SCHEDULE_RE='^[a-z,*-]+=(off|[0-9:, -]+)$'
IFS=';' read -r -a SCHEDULE_ENTRIES <<<"$SCHEDULE"
for entry in "${SCHEDULE_ENTRIES[@]}"; do
    [[ -z "$entry" || "$entry" =~ $SCHEDULE_RE ]] ||
        die "--schedule entry '$entry' must look like mon-fri=06:00-22:00 (days=windows, ';' between entries)"
done
[[ -z "$API_KEY_FILE" || -r "$API_KEY_FILE" ]] || die "--api-key-file $API_KEY_FILE is not readable"
[[ -z "$WHEEL" || -f "$WHEEL" ]] || die "--wheel $WHEEL does not exist"
if [[ -z "$WHEEL" ]]; then
    SOURCE="${SOURCE:-$(dirname "$SCRIPT_DIR")}"
    [[ -f "$SOURCE/pyproject.toml" ]] || die "--source $SOURCE has no pyproject.toml (give --source DIR or --wheel FILE)"
    SOURCE="$(cd "$SOURCE" && pwd)"
fi
UNIT_SRC="${SOURCE:-$(dirname "$SCRIPT_DIR")}/systemd"
FILES_SRC="$SCRIPT_DIR/files"
[[ -f "$UNIT_SRC/osc-player.service" ]] || die "unit files not found in $UNIT_SRC"

if [[ $DRY_RUN -eq 0 && "$(id -u)" -ne 0 ]]; then
    die "run as root (sudo $0 ...), or add --dry-run"
fi

# run CMD...: execute, or only print under --dry-run
run() {
    if [[ $DRY_RUN -eq 1 ]]; then
        printf '+'; printf ' %q' "$@"; printf '\n'
    else
        "$@"
    fi
}

# install_file SRC DEST MODE OWNER:GROUP -> returns 0 when the file changed
install_file() {
    local src="$1" dest="$2" mode="$3" owner="$4"
    if [[ -f "$dest" ]] && cmp -s "$src" "$dest"; then
        if [[ $DRY_RUN -eq 0 ]]; then
            chmod "$mode" "$dest"
            chown "$owner" "$dest"
        fi
        return 1
    fi
    if [[ $DRY_RUN -eq 1 ]]; then
        printf '+ write %s (mode %s, owner %s)\n' "$dest" "$mode" "$owner"
        return 0
    fi
    install -D -m "$mode" -o "${owner%%:*}" -g "${owner##*:}" "$src" "$dest.tmp.$$"
    sync -f "$dest.tmp.$$" 2>/dev/null || true
    mv -f "$dest.tmp.$$" "$dest"
    log "wrote $dest"
    return 0
}

# write_content DEST MODE OWNER:GROUP  (content on stdin)
write_content() {
    local tmp
    tmp="$(mktemp)"
    cat >"$tmp"
    if [[ $DRY_RUN -eq 1 && "$1" != *secrets* ]]; then
        printf '+ content of %s:\n' "$1"
        sed 's/^/    /' "$tmp"
    fi
    local rc=0
    install_file "$tmp" "$@" || rc=$?
    rm -f "$tmp"
    return "$rc"
}

toml_string() {
    # a TOML basic string: escape backslash and double quote, reject control characters
    local value="$1"
    [[ "$value" != *[[:cntrl:]]* ]] || die "value ${value@Q} contains control characters"
    value="${value//\\/\\\\}"
    value="${value//\"/\\\"}"
    printf '"%s"' "$value"
}

# ---------------------------------------------------------------------------------------------
# 1. system facts
# ---------------------------------------------------------------------------------------------
# shellcheck source=/dev/null
. /etc/os-release
CODENAME="${VERSION_CODENAME:-unknown}"
ARCH="$(dpkg --print-architecture 2>/dev/null || uname -m)"
IS_PI=0
if [[ -r /proc/device-tree/model ]] && grep -qa "Raspberry Pi" /proc/device-tree/model; then
    IS_PI=1
fi
SYSTEMD_RUNNING=0
[[ -d /run/systemd/system ]] && SYSTEMD_RUNNING=1
log "system: ${PRETTY_NAME:-$ID} ($CODENAME, $ARCH), Raspberry Pi: $IS_PI, systemd running: $SYSTEMD_RUNNING"
case "$CODENAME" in
    bookworm|trixie) ;;
    *) log "warning: $CODENAME is not a tested release (bookworm, trixie); continuing" ;;
esac

# ---------------------------------------------------------------------------------------------
# 2. Debian packages
# ---------------------------------------------------------------------------------------------
PACKAGES=(
    # minimal X server for the kiosk session, no window manager
    xserver-xorg-core xserver-xorg-input-libinput xinit x11-xserver-utils
    # Qt's xcb platform plugin needs these at run time
    libxcb-cursor0 libxkbcommon-x11-0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
    libxcb-render-util0 libxcb-xinerama0 libxcb-xkb1 libxcb-shape0 libegl1 libgl1 libfontconfig1 libdbus-1-3
    # video through the system libvlc
    libvlc5 vlc-plugin-base vlc-plugin-video-output
    # fonts, Python, tools the player calls
    fonts-dejavu-core python3 python3-venv python3-pip iproute2 v4l-utils
    # privileges for remote restart/reboot
    sudo polkitd
)
if [[ $DO_APT -eq 1 ]]; then
    missing=()
    for pkg in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "installing packages: ${missing[*]}"
        run apt-get update -q
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
    else
        log "all Debian packages present"
    fi
fi

# ---------------------------------------------------------------------------------------------
# 3. the player user
# ---------------------------------------------------------------------------------------------
if ! id "$PLAYER_USER" >/dev/null 2>&1; then
    run useradd --system --user-group --home-dir /var/lib/osc-player --no-create-home \
        --shell /usr/sbin/nologin --comment "osc-player signage" "$PLAYER_USER"
fi
for group in video render input audio tty; do
    if getent group "$group" >/dev/null && ! id -nG "$PLAYER_USER" 2>/dev/null | tr ' ' '\n' | grep -qx "$group"; then
        run usermod -a -G "$group" "$PLAYER_USER"
    fi
done

# ---------------------------------------------------------------------------------------------
# 4. virtualenv with the player
# ---------------------------------------------------------------------------------------------
TARGET="${WHEEL:-$SOURCE}"
pip_quiet=(--disable-pip-version-check --no-input -q)

make_venv() { # make_venv [--system-site-packages]
    if [[ -x "$VENV/bin/python" ]]; then
        local has_system=0
        grep -q "include-system-site-packages = true" "$VENV/pyvenv.cfg" 2>/dev/null && has_system=1
        if [[ "${1:-}" == "--system-site-packages" && $has_system -eq 0 ]] ||
           [[ -z "${1:-}" && $has_system -eq 1 ]]; then
            log "recreating $VENV (system site packages setting changes)"
            run rm -rf "$VENV"
        else
            return 0
        fi
    fi
    run mkdir -p "$PREFIX"
    run python3 -m venv "$@" "$VENV"
}

install_player_with_wheels() {
    make_venv
    run "$VENV/bin/pip" install "${pip_quiet[@]}" --upgrade "$TARGET"
}

install_player_with_system_pyside() {
    if [[ $DRY_RUN -eq 0 ]] && ! apt-cache show python3-pyside6.qtwidgets >/dev/null 2>&1; then
        die "no PySide6 wheels could be installed and $CODENAME has no python3-pyside6 packages (see pip's message above)"
    fi
    if [[ $DO_APT -eq 1 ]]; then
        run env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
            python3-pyside6.qtcore python3-pyside6.qtgui python3-pyside6.qtwidgets
    fi
    make_venv --system-site-packages
    run "$VENV/bin/pip" install "${pip_quiet[@]}" --upgrade --no-deps "$TARGET"
    # every other dependency from the wheels, PySide6 from the distribution
    if [[ $DRY_RUN -eq 1 ]]; then
        printf '+ %s/bin/pip install <dependencies of osc-player except PySide6>\n' "$VENV"
        return 0
    fi
    local deps
    mapfile -t deps < <("$VENV/bin/python" - <<'PY'
from importlib.metadata import requires
for req in requires("osc-player") or []:
    if "extra ==" not in req and not req.lower().startswith("pyside6"):
        print(req)
PY
)
    if [[ ${#deps[@]} -gt 0 ]]; then
        "$VENV/bin/pip" install "${pip_quiet[@]}" "${deps[@]}"
    fi
}

case "$PYSIDE_MODE" in
    wheel) install_player_with_wheels ;;
    system) install_player_with_system_pyside ;;
    auto)
        if ! install_player_with_wheels; then
            log "PySide6 wheels not available here; using the distribution's PySide6 packages"
            install_player_with_system_pyside
        fi
        ;;
esac
if [[ $DRY_RUN -eq 0 ]]; then
    "$VENV/bin/python" -c "import player" || die "the player package does not import in $VENV"
    [[ -x "$VENV/bin/osc-player" ]] || die "$VENV/bin/osc-player is missing after the install"
fi
if [[ -d "${SOURCE:-}/docs" ]]; then
    run mkdir -p "$PREFIX/docs"
    run cp -r "$SOURCE/docs/." "$PREFIX/docs/"
fi

# ---------------------------------------------------------------------------------------------
# 5. configuration
# ---------------------------------------------------------------------------------------------
run install -d -m 0755 -o root -g root "$CONF_DIR"
CONFIG="$CONF_DIR/player.toml"
if [[ -f "$CONFIG" && -z "$HUB_URL$APP_ID$CITY$SCREEN_ID$SCREEN_NAME$FOLDER$SCHEDULE" && "$POWER_BACKEND" == auto ]]; then
    log "keeping existing $CONFIG (no settings given)"
else
    {
        echo "# osc-player configuration, written by provisioning/install.sh; see docs/operations.md"
        echo
        echo "[player]"
        echo "city = $(toml_string "$CITY")"
        echo "screen_name = $(toml_string "$SCREEN_NAME")"
        echo "locale = \"de-DE\""
        echo "state_dir = \"/var/lib/osc-player\""
        echo "cache_dir = \"/var/cache/osc-player\""
        echo
        echo "[source]"
        if [[ -n "$FOLDER" ]]; then
            echo "type = \"folder\""
            echo "path = $(toml_string "$FOLDER")"
        else
            echo "type = \"hub\""
        fi
        echo
        echo "[hub]"
        echo "url = $(toml_string "$HUB_URL")"
        echo "app_id = $(toml_string "$APP_ID")"
        echo "secrets_file = \"$CONF_DIR/secrets.toml\""
        echo
        echo "[display]"
        echo "power_backend = $(toml_string "$POWER_BACKEND")"
        echo
        echo "[display.power_schedule]"
        echo "# weekly display-on windows in local time; empty: always on. Example:"
        echo "# \"mon-fri\" = \"06:00-22:00\""
        echo "# \"sun\" = \"off\""
        for entry in "${SCHEDULE_ENTRIES[@]}"; do
            [[ -n "$entry" ]] && echo "$(toml_string "${entry%%=*}") = $(toml_string "${entry#*=}")"
        done
    } | write_content "$CONFIG" 0644 "root:root" || true
fi
if [[ -n "$API_KEY_FILE" ]]; then
    key="$(tr -d '\r\n' <"$API_KEY_FILE")"
    printf '# hub credentials: readable by osc-player only (see docs/hub.md)\nrest_key = %s\n' "$(toml_string "$key")" |
        write_content "$CONF_DIR/secrets.toml" 0600 "$PLAYER_USER:$PLAYER_USER" || true
fi

# ---------------------------------------------------------------------------------------------
# 6. systemd units, journald, hardware watchdog, blanking off, privileges
# ---------------------------------------------------------------------------------------------
for unit in osc-player.service osc-kiosk-x.service; do
    install_file "$UNIT_SRC/$unit" "/etc/systemd/system/$unit" 0644 root:root && CHANGED_UNITS=1
done
JOURNALD_CHANGED=0
install_file "$UNIT_SRC/journald.conf.d/50-osc-player.conf" /etc/systemd/journald.conf.d/50-osc-player.conf 0644 root:root &&
    JOURNALD_CHANGED=1
install_file "$UNIT_SRC/system.conf.d/50-osc-player-watchdog.conf" /etc/systemd/system.conf.d/50-osc-player-watchdog.conf 0644 root:root &&
    CHANGED_UNITS=1
install_file "$FILES_SRC/10-osc-player-noblank.conf" /etc/X11/xorg.conf.d/10-osc-player-noblank.conf 0644 root:root || true
install_file "$FILES_SRC/50-osc-player.rules" /etc/polkit-1/rules.d/50-osc-player.rules 0644 root:root || true

# sudoers: validate before it goes live (a broken sudoers file locks out sudo)
if [[ $DRY_RUN -eq 1 ]] || visudo -cqf "$FILES_SRC/sudoers-osc-player"; then
    install_file "$FILES_SRC/sudoers-osc-player" /etc/sudoers.d/osc-player 0440 root:root || true
else
    die "$FILES_SRC/sudoers-osc-player does not pass visudo -c"
fi

# console blanking off on the kernel command line (Raspberry Pi: /boot/firmware/cmdline.txt)
for cmdline in /boot/firmware/cmdline.txt /boot/cmdline.txt; do
    if [[ -f "$cmdline" ]]; then
        if ! grep -q "consoleblank=0" "$cmdline"; then
            log "adding consoleblank=0 to $cmdline"
            run sed -i '1 s/$/ consoleblank=0/' "$cmdline"
        fi
        break
    fi
done

if [[ -n "$TIMEZONE" ]]; then
    [[ -f "/usr/share/zoneinfo/$TIMEZONE" ]] || die "--timezone $TIMEZONE is not a known time zone"
    if [[ "$(readlink -f /etc/localtime)" != "/usr/share/zoneinfo/$TIMEZONE" ]]; then
        run ln -sf "/usr/share/zoneinfo/$TIMEZONE" /etc/localtime
        echo "$TIMEZONE" | write_content /etc/timezone 0644 root:root || true
    fi
fi

# boot to the console target: the kiosk X unit replaces any desktop session
run systemctl set-default multi-user.target
for dm in lightdm gdm3 sddm; do
    if systemctl is-enabled "$dm.service" >/dev/null 2>&1; then
        run systemctl disable "$dm.service"
    fi
done
run systemctl enable osc-kiosk-x.service osc-player.service

if [[ $SYSTEMD_RUNNING -eq 1 ]]; then
    run systemctl daemon-reload
    if [[ $JOURNALD_CHANGED -eq 1 ]]; then
        run systemctl restart systemd-journald.service
    fi
    if [[ $CHANGED_UNITS -eq 1 ]]; then
        run systemctl daemon-reexec
    fi
    if [[ $DO_START -eq 1 ]]; then
        run systemctl restart osc-kiosk-x.service osc-player.service
    fi
else
    log "systemd is not running here (image or chroot): units enabled, they start on the next boot"
fi

log "done. Logs: journalctl -u osc-player -f; configuration: $CONFIG"
