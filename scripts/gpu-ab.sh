#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: an A/B of the CUDA plugin inside one set of
# host binaries. Builds the working tree into build-gpu (B) and a baseline
# tree, unpacked from a tarball, into its own folder (A), side by side; then
# runs CMD ROUNDS times per plugin, alternating A and B, with ZF_CUDA_LIB
# naming the plugin, so only the plugin differs between the two.
#   scripts/gpu-ab.sh A.tar OUTDIR ROUNDS CMD [ARGS...]
# A.tar: the baseline sources, e.g. `git archive <rev> -o .lab/A.tar` on the
#   developer's machine (the device run carries .lab; its copy has no .git).
# CMD runs in build-gpu, e.g. ./zf_cuda_moe_bench --tokens 1.
# Writes OUTDIR/ab.txt (each run under "== A <i>" or "== B <i>"; only the
# lines matching ZF_AB_GREP, an extended regex, when it is set) and the two
# build logs. ZF_AB_PATCH=FILE patches the baseline tree (patch -p1) before
# its build: a lab variant of the working tree is then A.tar of the tree
# plus the patch.
# The baseline must have this tree's plugin ABI (its plugin is loaded into
# this tree's binaries); otherwise the script stops with exit 2.
set -u
usage() {
    echo "usage: scripts/gpu-ab.sh A.tar OUTDIR ROUNDS CMD [ARGS...]" >&2
    exit 2
}
[ $# -ge 4 ] || usage
A_TAR=$1 OUT=$2 ROUNDS=$3
shift 3
[ -f "$A_TAR" ] || { echo "gpu-ab: no baseline tarball $A_TAR" >&2; exit 2; }
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || { echo "gpu-ab: ROUNDS must be a positive integer, not '$ROUNDS'" >&2; exit 2; }
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/build-gpu
V=${ZF_AB_DIR:-/tmp/zf-ab-base}
. "$ROOT/scripts/gpu-env.sh"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if ! { rm -rf "$V" && mkdir -p "$V" && tar -xf "$A_TAR" -C "$V"; }; then
    echo "gpu-ab: cannot unpack $A_TAR into $V" >&2
    exit 1
fi
if [ -n "${ZF_AB_PATCH:-}" ]; then
    (cd "$V" && patch -p1 <"$ZF_AB_PATCH") >"$OUT/a-patch.log" 2>&1 || { echo "gpu-ab: the patch failed: $OUT/a-patch.log" >&2; exit 1; }
fi
# B's binaries load A's plugin: both must have one plugin ABI
abi() { sed -n 's/^#define ZF_CUDA_PLUGIN_ABI \([0-9][0-9]*\).*/\1/p' "$1/src/core/cuda_loader.h" 2>/dev/null; }
if [ "$(abi "$V")" != "$(abi "$ROOT")" ]; then
    echo "gpu-ab: the baseline's plugin ABI ($(abi "$V")) is not this tree's ($(abi "$ROOT")): its plugin cannot load" \
        "into this tree's binaries; build and run the baseline's own binaries instead" \
        "(docs/cuda-run/h100-session10/c8.sh)" >&2
    exit 2
fi
jobs=$(($(nproc) / 2))
[ "$jobs" -ge 1 ] || jobs=1
build() { # source dir, build dir, log, targets...
    local src=$1 dir=$2 log=$3
    shift 3
    cmake -S "$src" -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON >"$log" 2>&1 &&
        cmake --build "$dir" -j "$jobs" "$@" >>"$log" 2>&1
}
build "$V" "$V/build" "$OUT/a-build.log" --target zfast_cuda &
apid=$!
build "$ROOT" "$B" "$OUT/b-build.log" &
bpid=$!
wait $apid || { echo "gpu-ab: the baseline build failed: $OUT/a-build.log" >&2; exit 1; }
wait $bpid || { echo "gpu-ab: the build failed: $OUT/b-build.log" >&2; exit 1; }

for i in $(seq 1 "$ROUNDS"); do
    for side in A B; do
        if [ $side = A ]; then plugin=$V/build/libzfast_cuda.so; else plugin=$B/libzfast_cuda.so; fi
        echo "== $side $i"
        (cd "$B" && ZF_CUDA_LIB=$plugin "$@") 2>&1 | grep -E "${ZF_AB_GREP:-.}"
    done
done | tee "$OUT/ab.txt"
