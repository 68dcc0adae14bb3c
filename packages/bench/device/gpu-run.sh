#!/usr/bin/env bash
# One call on a lent GPU machine (NVIDIA H100/H200, 16 cores, no network, root): the webgpu engine's correctness
# at the recipes' shapes on the GPU, the side-by-side table (bench:gpu: webgpu vs PyTorch CUDA, wasm vs PyTorch
# on the CPU by threads) and the per-kernel profiles, in at most ~9 minutes, everything under $OUT.
#
#   bash packages/bench/device/gpu-run.sh            (in the repository root there; carry packages/bench/device/carry)
#   DRY=1 OUT=/tmp/out bash packages/bench/device/gpu-run.sh   (here: tiny sizes, whatever adapter Dawn finds,
#                                                               PyTorch on the CPU, nothing unpacked into /)
#
# Needs packages/bench/device/carry from prepare.sh. Each phase has a time cap and the script a deadline
# (BUDGET seconds, default 530), so a slow phase costs its own results only. Files back (at most 8):
#   gpu-run.log          everything printed, with the machine (nvidia-smi, CPU, Node, PyTorch, Dawn's adapter)
#   webgpu-tests.log     packages/webgpu's tests on this GPU, where that package exists
#   webgpu-check.txt     bench:webgpu-check: every network's first gradients and 3 steps, webgpu vs wasm, recipe batch
#   bench-gpu.md/.json   bench:gpu's side-by-side table and its raw numbers
#   profiles.txt         bench:gpu --profile on the GPU (LeNet, ResNet-18 at the recipe) and on Dawn's null adapter
#   profile-lenet.json, profile-resnet18.json   the two GPU profiles' raw numbers
set -uo pipefail
start=$SECONDS
root=$(cd "$(dirname "$0")/../../.." && pwd)
carry="$root/packages/bench/device/carry"
OUT=${OUT:?set OUT to the folder the results go to}
BUDGET=${BUDGET:-530}
mkdir -p "$OUT"
exec > >(tee -a "$OUT/gpu-run.log") 2>&1
say() { printf '[%4d s] %s\n' $((SECONDS - start)) "$*"; }
left() { echo $((BUDGET - (SECONDS - start))); }
# phase CAP NAME COMMAND…: runs COMMAND under min(CAP, time left − RESERVE), or skips it when under 20 s are left.
phase() {
  local cap=$1 name=$2; shift 2
  local t=$(( $(left) - ${RESERVE:-0} )); [ "$t" -gt "$cap" ] && t=$cap
  if [ "$t" -lt 20 ]; then say "SKIPPED $name: $(left) s left"; return 0; fi
  say "$name (cap $t s)"
  timeout -k 5 "$t" "$@"; local rc=$?
  [ $rc -eq 124 ] || [ $rc -eq 137 ] && say "TIMED OUT $name after $t s" || say "$name: exit $rc"
  return 0
}
cd "$root"
test -f "$carry/modules.tar.xz" || { say "no $carry/modules.tar.xz: run packages/bench/device/prepare.sh here first and carry packages/bench/device/carry"; exit 2; }

# unxz FILE: xz if present, else Python's lzma (the CUDA image has python3).
unxz_to() { if command -v xz >/dev/null; then xz -dc "$1"; else python3 -c 'import lzma,shutil,sys; shutil.copyfileobj(lzma.open(sys.argv[1]), sys.stdout.buffer)' "$1"; fi; }

# 1. Node ≥ 20: the machine's, else the carried binary.
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)" -lt 20 ]; then
  mkdir -p /tmp/node-bin && unxz_to "$carry/node.xz" > /tmp/node-bin/node && chmod +x /tmp/node-bin/node
  export PATH=/tmp/node-bin:$PATH
  say "Node: carried $(node -v)"
else
  say "Node: the machine's $(node -v) at $(command -v node)"
fi

# 2. node_modules and every package's dist/, as prepare.sh packed them.
unxz_to "$carry/modules.tar.xz" | tar -xf - -C "$root" || { say "unpacking modules.tar.xz failed"; exit 2; }
say "node_modules unpacked"

# 3. Vulkan: the loader (libvulkan1) where the image lacks it; NVIDIA's ICD where the driver's folder has it.
if [ -z "${DRY:-}" ]; then
  if ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
    for f in "$carry"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
    say "Vulkan loader unpacked from $(ls "$carry"/debs)"
  fi
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -z "${VK_DRIVER_FILES:-}" ] && [ -f $icd ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
    export VK_DRIVER_FILES=$icd
  fi
fi
export FASHION_MNIST_DIR="$carry/fashion-mnist" CONVNETS_OFFLINE=1 XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-/tmp} PYTHONUNBUFFERED=1
export CONVNETS_DAWN_FLAGS=${CONVNETS_DAWN_FLAGS:-disable-dawn-features=timestamp_quantization}
tsx="$root/packages/bench/node_modules/.bin/tsx"
bench="$root/packages/bench"

# 4. The machine.
say "machine:"
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv 2>&1 | sed 's/^/  /'
echo "  CPU: $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo "  flags: $(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -xE 'avx|avx2|fma|avx512f|avx512_vnni|avx512_bf16|amx_tile' | tr '\n' ' ')"
echo "  load: $(cut -d' ' -f1-3 /proc/loadavg); memory: $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
# PyTorch: the first Python that imports torch (on the CUDA image, plain python3).
for p in ${PYTHON:-} python3 /usr/bin/python3; do "$p" -c 'import torch' 2>/dev/null && { export PYTHON=$p; break; }; done
"${PYTHON:-python3}" -c 'import torch; print("  PyTorch", torch.__version__, "CUDA", torch.version.cuda, "available:", torch.cuda.is_available(), "cuDNN", torch.backends.cudnn.version())' 2>&1
(cd "$bench" && node --input-type=module -e "const { create } = await import('webgpu'); const a = await create(process.env.CONVNETS_DAWN_FLAGS.split(' ')).requestAdapter({ powerPreference: 'high-performance' }); const i = a?.info; console.log('  Dawn adapter:', a ? [i.vendor, i.architecture, i.device, i.description].filter(Boolean).join(' | ') + (a.features.has('timestamp-query') ? ' (timestamp-query)' : ' (no timestamp-query)') : 'NONE');" 2>&1 | grep -v 'artificially reduced')

if [ -n "${DRY:-}" ]; then
  torch=(--torch-device cpu); sizes=(--batch-size 8 --input-size 32); nets=lenet,resnet18; cpu=(--cpu-networks lenet --threads 1,all --cpu-batch-size 8 --cpu-input-size 32)
  check=(--networks lenet --batch-size 8); prof=(--batch-size 8 --input-size 32 --steps 3 --profile-steps 1); timing=(--steps 2 --warmup 1)
else
  torch=(); sizes=(); nets=lenet,lenet-bn,alexnet,vgg11,nin,googlenet,resnet18,densenet; cpu=(); check=(); prof=(--steps 10 --profile-steps 2); timing=()
fi

# 5. Correctness on this GPU: packages/webgpu's tests (where the package exists), then every network's first
#    gradients and three steps at the recipe's batch, webgpu against wasm.
if [ -x "$root/packages/webgpu/node_modules/.bin/vitest" ]; then
  RESERVE=330 phase 90 "packages/webgpu tests" bash -c "cd '$root/packages/webgpu' && node_modules/.bin/vitest run 2>&1 | tee '$OUT/webgpu-tests.log'"
else
  say "packages/webgpu not here (or not installed): its tests skipped"
fi
RESERVE=300 phase 120 "bench:webgpu-check" bash -c "cd '$bench' && '$tsx' src/webgpu-check.ts ${check[*]} 2>&1 | grep -v 'artificially reduced' | tee '$OUT/webgpu-check.txt'"

# 6. Side by side: every network at its recipe on webgpu and PyTorch CUDA; the CPU by threads.
#    No measurement starts after --deadline (45 s before the phase's cap), so the table is always written.
t=$(( $(left) - 60 )); [ $t -gt 300 ] && t=300; [ $t -lt 90 ] && t=90
RESERVE=60 phase 300 "bench:gpu side by side" bash -c "cd '$bench' && '$tsx' src/gpu.ts --networks $nets ${sizes[*]} ${timing[*]} ${cpu[*]} ${torch[*]} --out '$OUT/side' --timeout 150 --deadline $((t - 45)) 2>&1 | grep -v 'artificially reduced'"
cp "$OUT/side/bench-gpu.md" "$OUT/side/bench-gpu.json" "$OUT/" 2>/dev/null && rm -rf "$OUT/side"

# 7. Profiles: LeNet and ResNet-18 on the GPU at the recipe, and the host's time on Dawn's null adapter (its memory
#    holds ResNet-18 at 32×32 batch 32, not at the recipe) on this machine's CPU.
for net in lenet resnet18; do
  phase 60 "profile $net" bash -c "cd '$bench' && '$tsx' src/gpu.ts --profile $net ${prof[*]} --calls 15 --json '$OUT/profile-$net.json' 2>&1 | grep -v 'artificially reduced' | tee -a '$OUT/profiles.txt'"
done
for spec in "lenet 28 256" "resnet18 32 32"; do
  set -- $spec
  phase 30 "null-adapter host time $1" bash -c "cd '$bench' && CONVNETS_DAWN_BACKEND=null '$tsx' src/gpu.ts --profile $1 --input-size $2 --batch-size $3 --steps 15 --profile-steps 1 2>&1 | grep -v 'artificially reduced' | head -4 | tee -a '$OUT/profiles.txt'"
done
say "done; files in $OUT: $(ls "$OUT" | tr '\n' ' ')"
