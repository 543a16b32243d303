#!/usr/bin/env bash
# One-command setup: installs the Debian 12 packages cordscope needs (scripts/packages.txt), then
# configures and builds into build/ (Release, warnings on). Idempotent: on a built tree with
# everything installed it only checks and re-runs the incremental build (seconds).
set -euo pipefail
cd "$(dirname "$0")/.."

mapfile -t packages < <(grep -v '^\s*#' scripts/packages.txt | grep -v '^\s*$')
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "bootstrap: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# ccache keyed on paths relative to the checkout: a fresh clone elsewhere (CI) reuses the objects.
export CCACHE_BASEDIR="$PWD"
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
fi
cmake --build build -j"$(nproc)" >&2
