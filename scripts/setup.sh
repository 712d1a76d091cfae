#!/usr/bin/env bash
# Idempotent machine setup for PIT Studio on Debian 12 (run as root, or with sudo available).
#  1. A WebGPU-capable Vulkan driver when there is no GPU: Mesa lavapipe >= 25 from bookworm-backports
#     (bookworm's own Mesa 22.3 is too old for Dawn).
#  2. Debian's Chromium for the browser tests (Playwright never downloads a browser).
#  3. npm ci, then the build.
# Each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive

mesa_ok() {
  local v; v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null || true)
  [ -n "$v" ] && dpkg --compare-versions "$v" ge 25
}
need_apt=()
if ! mesa_ok; then need_apt+=(mesa); fi
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
dpkg -s libvulkan1 >/dev/null 2>&1 || need_apt+=(vulkan)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing system packages (${need_apt[*]})"
  if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
    echo 'deb http://deb.debian.org/debian bookworm-backports main' | $SUDO tee /etc/apt/sources.list.d/bookworm-backports.list >/dev/null
  fi
  $SUDO apt-get update -qq
  pkgs=(libvulkan1 chromium xz-utils)
  $SUDO apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  if ! mesa_ok; then
    $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
  fi
fi
mesa_ok || { echo "setup: mesa-vulkan-drivers >= 25 could not be installed" >&2; exit 1; }

# better-sqlite3 builds from source against the system Node headers.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"
export ELECTRON_SKIP_BINARY_DOWNLOAD=1
stamp=node_modules/.pit-setup-stamp
if [ ! -f "$stamp" ] || [ package-lock.json -nt "$stamp" ]; then
  echo "setup: npm ci"
  npm ci --no-audit --no-fund
  touch "$stamp"
fi
echo "setup: build"
npm run --silent build:cli
# The web UI (out/renderer: `pit serve`, the Playwright tests), rebuilt only when its sources changed.
if [ ! -f out/renderer/index.html ] || [ -n "$(find renderer core/protocol.ts vite.renderer.config.ts -newer out/renderer/index.html -print -quit)" ]; then
  npm run --silent build:renderer
fi
