#!/usr/bin/env bash
# `pnpm test`'s first step (the root package.json's "pretest"): prepares what the tests need and npm cannot bring.
#
#   Fashion-MNIST      dataset-fashion-mnist (or FASHION_MNIST_DIR): the training and data tests read the real files
#   Chromium           chromium (or CHROMIUM_PATH): the playground's page is tested in a real browser
#   lavapipe           mesa-vulkan-drivers ≥ 24 and libvulkan1 (Debian 12: from bookworm-backports): a software
#                      GPU adapter, so the webgpu engine's tests run on a machine without a GPU
#   Redis              redis-server: the BullMQ sweep's tests start their own on a free localhost port
#   PyTorch            python3-torch in /usr/bin/python3: our PyTorch peer's tests (packages/bench) check that the
#                      other side of every comparison is the same network as ours
#
# Quiet and quick when all is there. What is missing is installed with apt-get when this runs as root on Debian or
# Ubuntu; anywhere else it stops at once with one line naming what to install. CONVNETS_PREPARE=0 skips it (the
# tests that need what is missing then fail or say why they skip).
set -uo pipefail

[ "${CONVNETS_PREPARE:-1}" = 0 ] && exit 0

has_fashion_mnist() {
  local dir files=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
  [ -n "${FASHION_MNIST_DIR:-}" ] && return 0  # core's loader names a wrong directory itself
  for dir in "${XDG_CACHE_HOME:-${HOME:-}/.cache}/convnets/fashion-mnist" /usr/share/datasets/fashion-mnist; do
    local all=1 f
    for f in "${files[@]}"; do [ -e "$dir/$f.gz" ] || [ -e "$dir/$f" ] || all=0; done
    [ $all = 1 ] && return 0
  done
  return 1
}

# Dawn refuses Mesa 22's lavapipe (Debian 12's own): "shaderUniform*ArrayDynamicIndexing required"; Mesa ≥ 24 works.
has_lavapipe() {
  if command -v dpkg-query >/dev/null; then
    local v
    v=$(dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null) || return 1
    dpkg --compare-versions "$v" ge 24 && dpkg-query -W libvulkan1 >/dev/null 2>&1
  else
    ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1
  fi
}

check() {  # fills missing with the Debian packages to install
  missing=()
  has_fashion_mnist || missing+=(dataset-fashion-mnist)
  { [ -n "${CHROMIUM_PATH:-}" ] || [ -x /usr/bin/chromium ]; } || missing+=(chromium)
  has_lavapipe || missing+=(mesa-vulkan-drivers)
  { [ -n "${REDIS_SERVER:-}" ] || command -v redis-server >/dev/null; } || missing+=(redis-server)
  /usr/bin/python3 -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("torch") is None)' 2>/dev/null || missing+=(python3-torch)
}

check
[ ${#missing[@]} = 0 ] && exit 0

# shellcheck disable=SC1091
. /etc/os-release 2>/dev/null || true
debian_like=0
case " ${ID:-} ${ID_LIKE:-} " in *" debian "* | *" ubuntu "*) debian_like=1 ;; esac
if [ "$(id -u)" != 0 ] || [ $debian_like = 0 ] || ! command -v apt-get >/dev/null; then
  hints=()
  [[ " ${missing[*]} " == *" mesa-vulkan-drivers "* ]] && hints+=("lavapipe needs Mesa ≥ 24: Debian 12 takes it from bookworm-backports")
  [[ " ${missing[*]} " == *" dataset-fashion-mnist "* ]] && hints+=("or set FASHION_MNIST_DIR to a directory with its four .gz files")
  [[ " ${missing[*]} " == *" chromium "* ]] && hints+=("or set CHROMIUM_PATH to a Chromium binary")
  hints+=("CONVNETS_PREPARE=0 runs the tests without")
  hint=$(printf '; %s' "${hints[@]}")
  echo "The tests need what npm cannot bring: as root on Debian/Ubuntu, apt-get install" \
    "${missing[*]/mesa-vulkan-drivers/mesa-vulkan-drivers libvulkan1} (${hint:2}), then rerun." >&2
  exit 1
fi

apt=(apt-get -o DPkg::Lock::Timeout=600 -qq)
install=(env DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y --no-install-recommends)
start=$(date +%s)
echo "Preparing the test machine: apt-get install ${missing[*]} ..."

# On Debian 12 lavapipe comes from bookworm-backports: an apt source derived from this machine's own bookworm
# stanza (suite renamed), so no mirror address is written here.
backports=()
if [[ " ${missing[*]} " == *" mesa-vulkan-drivers "* ]] && [ "${VERSION_CODENAME:-}" = bookworm ]; then
  list=/etc/apt/sources.list.d/convnets-bookworm-backports.sources
  src=/etc/apt/sources.list.d/debian.sources
  if [ ! -e "$list" ]; then
    if [ -r "$src" ]; then
      # The first stanza whose Suites has plain "bookworm", with Suites replaced by bookworm-backports.
      awk 'BEGIN { RS = ""; ORS = "\n\n" }
           /(^|\n)Suites:([^\n]* )?bookworm( |\n|$)/ && !done {
             n = split($0, lines, "\n"); out = ""
             for (i = 1; i <= n; i++) {
               if (lines[i] ~ /^Suites:/) lines[i] = "Suites: bookworm-backports"
               out = out lines[i] "\n"
             }
             printf "%s", out; done = 1
           }' "$src" >"$list.tmp"
    fi
    if [ -e "$list.tmp" ] && grep -q '^Suites: bookworm-backports$' "$list.tmp"; then
      mv "$list.tmp" "$list"
    else
      rm -f "$list.tmp"
      echo "No bookworm stanza in $src to derive bookworm-backports from: add a bookworm-backports apt source, then rerun" >&2
      exit 1
    fi
  fi
  backports=(-t bookworm-backports)
fi

"${apt[@]}" update || { echo "apt-get update failed: see above" >&2; exit 1; }
packages=("${missing[@]/mesa-vulkan-drivers/}")
read -ra packages <<<"${packages[*]}"
if [ ${#packages[@]} -gt 0 ]; then
  "${install[@]}" "${packages[@]}" >/dev/null || { echo "apt-get install ${packages[*]} failed: see above" >&2; exit 1; }
fi
if [[ " ${missing[*]} " == *" mesa-vulkan-drivers "* ]]; then
  "${install[@]}" "${backports[@]}" mesa-vulkan-drivers libvulkan1 >/dev/null ||
    { echo "apt-get install mesa-vulkan-drivers libvulkan1 failed: see above" >&2; exit 1; }
fi
check
if [ ${#missing[@]} -gt 0 ]; then
  echo "Still missing after apt-get: ${missing[*]}$([[ " ${missing[*]} " == *" mesa-vulkan-drivers "* ]] &&
    echo " (lavapipe needs Mesa ≥ 24: on an older release, take mesa-vulkan-drivers from its backports)")" >&2
  exit 1
fi
echo "Test machine prepared in $(($(date +%s) - start)) s."
