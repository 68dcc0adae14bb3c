#!/usr/bin/env bash
# Installs a Vulkan software adapter Dawn accepts, for the webgpu engine's tests (packages/core/test/webgpu*).
# Debian 12's own lavapipe (Mesa 22.3) is refused by Dawn ("shaderUniform*ArrayDynamicIndexing required");
# Mesa 25's, from bookworm-backports, works. The backports entry is derived from this machine's own apt
# source (its bookworm stanza, suite renamed), so no mirror address is written here.
set -euo pipefail

if dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q bpo; then
  exit 0
fi

list=/etc/apt/sources.list.d/convnets-bookworm-backports.sources
if [ ! -e "$list" ]; then
  src=/etc/apt/sources.list.d/debian.sources
  if [ ! -r "$src" ]; then
    echo "install-lavapipe: $src not found; add a bookworm-backports apt source by hand, then rerun" >&2
    exit 1
  fi
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
  if ! grep -q '^Suites: bookworm-backports$' "$list.tmp"; then
    rm -f "$list.tmp"
    echo "install-lavapipe: no stanza with Suites: bookworm in $src; add a bookworm-backports apt source by hand" >&2
    exit 1
  fi
  mv "$list.tmp" "$list"
fi
apt-get -o DPkg::Lock::Timeout=600 update -qq
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends -t bookworm-backports \
  mesa-vulkan-drivers libvulkan1 >/dev/null
