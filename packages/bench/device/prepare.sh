#!/usr/bin/env bash
# Builds packages/bench/device/carry/ (ignored by git): what a lent GPU machine needs to run gpu-run.sh and
# that the repository's tracked files do not hold, in under 64 MiB with the working tree:
#   node.xz          this machine's Node binary (linux-x64), for a machine without Node ≥ 20
#   modules.tar.xz   the workspace's node_modules (pruned: Linux x64 only, no linters, formatters or browsers)
#                    and every package's dist/, unpacked over the checkout there
#   debs/            the Vulkan loader (libvulkan1), unpacked over / there (apt download here)
#   fashion-mnist/   the first 1,024 training and test images and labels (the benchmarks time one batch)
# Run from anywhere, after `pnpm install` (which builds every package): bash packages/bench/device/prepare.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
out="$here/carry"
mkdir -p "$out/debs" "$out/fashion-mnist"
cd "$root"
test -d node_modules/.pnpm || { echo "prepare: run pnpm install first (node_modules/.pnpm is missing)" >&2; exit 1; }
for p in core wasm trainer bench; do
  test -d "packages/$p/dist" || [ "$p" = bench ] || { echo "prepare: packages/$p/dist is missing: run pnpm install (it builds) or pnpm build" >&2; exit 1; }
done

# 1. Node: the binary this machine runs (official linux-x64 builds need only glibc and libstdc++).
node_bin=$(readlink -f "$(command -v node)")
node_version=$(node -v)
if [ ! -f "$out/node.xz" ] || [ "$(cat "$out/node.version" 2>/dev/null)" != "$node_version" ]; then
  echo "prepare: compressing $node_bin ($node_version)…"
  xz -T0 -6 -c "$node_bin" > "$out/node.xz.tmp" && mv "$out/node.xz.tmp" "$out/node.xz"
  echo "$node_version" > "$out/node.version"
fi

# 2. node_modules and dist/, pruned. Left out: other platforms' binaries, linters and formatters, build tools
#    the run does not use, browser packages, source maps.
echo "prepare: packing node_modules and dist/…"
exclude=(
  --exclude='node_modules/.pnpm/@biomejs+*'
  --exclude='node_modules/.pnpm/@turbo+*' --exclude='node_modules/.pnpm/turbo@*'
  --exclude='node_modules/.pnpm/typescript@*'
  --exclude='node_modules/.pnpm/@tensorflow+tfjs@*' --exclude='node_modules/.pnpm/@tensorflow+tfjs-converter@*'
  --exclude='node_modules/.pnpm/@tensorflow+tfjs-backend-webgl@*' --exclude='node_modules/.pnpm/@tensorflow+tfjs-data@*'
  --exclude='node_modules/.pnpm/@tensorflow+tfjs-node*'
  --exclude='node_modules/.pnpm/core-js@*'
  --exclude='node_modules/.pnpm/playwright*' --exclude='node_modules/.pnpm/prettier@*'
  --exclude='node_modules/.pnpm/@changesets+*' --exclude='node_modules/.pnpm/@types+*'
  --exclude='node_modules/.pnpm/webgpu@*/node_modules/webgpu/dist/darwin-*'
  --exclude='node_modules/.pnpm/webgpu@*/node_modules/webgpu/dist/win32-*'
  --exclude='node_modules/.pnpm/webgpu@*/node_modules/webgpu/dist/linux-arm64'
  --exclude='*.map' --exclude='*.min.js'
  --exclude='node_modules/.cache' --exclude='.turbo'
)
mapfile -t trees < <(ls -d node_modules packages/*/node_modules packages/*/dist 2>/dev/null)
tar -cf - "${exclude[@]}" "${trees[@]}" | xz -T0 -6 > "$out/modules.tar.xz.tmp"
mv "$out/modules.tar.xz.tmp" "$out/modules.tar.xz"

# 3. The Vulkan loader: NVIDIA's driver brings the ICD; the image may lack libvulkan.so.1.
if ! ls "$out"/debs/libvulkan1_*.deb >/dev/null 2>&1; then
  echo "prepare: downloading libvulkan1 (apt)…"
  lists=$(mktemp -d)
  mkdir -p "$lists/partial"
  o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
  apt-get "${o[@]}" update -qq
  (cd "$out/debs" && apt-get "${o[@]}" download libvulkan1)
  rm -rf "$lists"
fi

# 4. Fashion-MNIST, the first 1,024 of each set (IDX files, gzip'd, as the loaders read them).
python3 - "$out/fashion-mnist" <<'PY'
import gzip, os, struct, sys
from pathlib import Path
src, dst, n = None, Path(sys.argv[1]), 1024
for d in (os.environ.get('FASHION_MNIST_DIR'), '/usr/share/datasets/fashion-mnist'):
    if d and Path(d, 'train-images-idx3-ubyte.gz').exists():
        src = Path(d)
        break
if src is None:
    sys.exit('prepare: Fashion-MNIST not found (set FASHION_MNIST_DIR)')
for name in ('train-images-idx3-ubyte', 't10k-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-labels-idx1-ubyte'):
    data = gzip.open(src / f'{name}.gz').read()
    dims = data[3]
    shape = list(struct.unpack(f'>{dims}I', data[4:4 + 4 * dims]))
    per = 1
    for s in shape[1:]:
        per *= s
    shape[0] = n
    head = data[:4] + struct.pack(f'>{dims}I', *shape)
    body = data[4 + 4 * dims:4 + 4 * dims + n * per]
    with gzip.open(dst / f'{name}.gz.tmp', 'wb') as f:
        f.write(head + body)
    os.replace(dst / f'{name}.gz.tmp', dst / f'{name}.gz')
PY

du -b "$out"/node.xz "$out"/modules.tar.xz "$out"/debs/* "$out"/fashion-mnist/* | awk '{ s += $1; print } END { printf "prepare: carry total %.1f MiB\n", s / 1048576 }'
tracked=$(git ls-files -z | xargs -0 du -cb 2>/dev/null | tail -1 | cut -f1)
total=$(( $(du -sb "$out" | cut -f1) + tracked ))
printf 'prepare: with the tracked files (%.1f MiB): %.1f MiB of the 64 MiB a run may carry\n' "$(echo "$tracked / 1048576" | bc -l)" "$(echo "$total / 1048576" | bc -l)"
[ "$total" -lt $((64 * 1048576)) ] || { echo "prepare: over 64 MiB" >&2; exit 1; }
