#!/usr/bin/env bash
# Installs what the harness needs on a Debian bookworm host: apt packages from
# the system's own sources, and the Python packages in a virtual environment
# kept in the cache. Idempotent; prints the venv's python on stdout.
# With --tests, also what only the tests need: an sshd binary, which a test
# starts on a port of its own to try `--cluster` over ssh (installing it under
# Debian's policy-rc.d starts no daemon; on a host with systemd it would).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${DAMON_HARNESS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/damon-harness}

apt_packages=(
    qemu-system-x86 qemu-utils debootstrap e2fsprogs openssh-client kmod
    xz-utils zstd ca-certificates gnupg debian-archive-keyring
    gcc make git flex bison bc libelf-dev libssl-dev cpio dwarves rsync ccache patch
    busybox-static
    python3 python3-venv
)

[ "${1:-}" = "--tests" ] && apt_packages+=(openssh-server)

log() { echo "setup: $*" >&2; }

missing_apt_packages() {
    local p
    for p in "${apt_packages[@]}"; do
        dpkg-query -W -f='${db:Status-Status}\n' "$p" 2>/dev/null \
            | grep -qx installed || echo "$p"
    done
}

install_apt_packages() {
    local missing sudo=""
    mapfile -t missing < <(missing_apt_packages)
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { log "need root to install: ${missing[*]}"; exit 1; }
        sudo=sudo
    fi
    log "installing apt packages: ${missing[*]}"
    $sudo apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >&2
}

python_requirements() {
    "$1" - "$top/pyproject.toml" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)["project"]
deps = list(project["dependencies"])
for extra in project.get("optional-dependencies", {}).values():
    deps += extra
print("\n".join(deps))
PY
}

ensure_venv() {
    local py reqs key venv
    py=$(command -v python3)
    reqs=$(python_requirements "$py")
    key=$( { "$py" --version; echo "$reqs"; } | sha256sum | cut -c1-16)
    venv="$cache/venv-$key"
    if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
        log "creating Python environment $venv"
        rm -rf "$venv"
        mkdir -p "$cache"
        "$py" -m venv "$venv" >&2
        # shellcheck disable=SC2086
        "$venv/bin/pip" install -q --disable-pip-version-check $reqs >&2
        touch "$venv/.complete"
    fi
    touch "$venv"   # its last use, for damon-harness cache prune
    echo "$venv/bin/python"
}

install_apt_packages
ensure_venv
