#!/usr/bin/env bash
# session 22 runs 6-7: can the CUDA tests fail? carry [".gpudeps"]. One plausible bug at a time in a CUDA
# source, the plugin rebuilt, the test that should see it run (ZF_TEST_QUICK=1), the source restored.
# Usage: s22r6.sh ID...   (IDs below; the build stays on the machine between calls, but the device copy
# keeps the local files' times: a source restored in an earlier call may not be rebuilt, so every call
# touches the CUDA sources first and rebuilds them all)
set -u
ROOT=$PWD
. scripts/gpu-env.sh
T0=$(date +%s)
touch src/cuda/*.cu src/cuda/*.cuh
cmake -S . -B build-gpu -G Ninja -DCMAKE_BUILD_TYPE=Release -DZF_CUDA=ON >"$OUT/configure.log" 2>&1 &&
    cmake --build build-gpu -j 16 --target zfast_cuda test_cuda test_cuda_moe test_cuda_model >"$OUT/build.log" 2>&1 ||
    { echo "build failed"; tail -20 "$OUT/build.log"; exit 1; }
echo "built in $(($(date +%s) - T0)) s"
mut() { # id file sed-expression test
    local id=$1 f=$2 expr=$3 t=$4
    if [ $(($(date +%s) - T0)) -gt "${ZF_MUT_LIMIT:-500}" ]; then echo "$id: not run (time)"; return; fi
    cp "$f" /tmp/orig
    sed -i "$expr" "$f"
    if cmp -s "$f" /tmp/orig; then echo "$id: the sed did not apply"; return; fi
    if cmake --build build-gpu -j 16 --target zfast_cuda >"$OUT/$id.build.log" 2>&1; then
        ZF_TEST_QUICK=1 timeout 150 build-gpu/tests/cuda/$t >"$OUT/$id.log" 2>&1
        local rc=$?
        echo "$id $t rc=$rc: $(grep -c '^FAIL' "$OUT/$id.log") FAIL lines; $(tail -1 "$OUT/$id.log")"
    else
        echo "$id: the mutant does not build"
    fi
    cp /tmp/orig "$f"
}
for id in "$@"; do
    case $id in
    C1) mut C1 src/cuda/elementwise.cu '34s/__fmul_rn(zf_cu_round<DT>(zf_cu_silu(a\[0\])), a\[1\])/__fmul_rn(zf_cu_silu(a[0]), a[1])/' test_cuda ;;
    C2) mut C2 src/cuda/moe.cu '177s/for (int j = PL - 1; j >= 0; j--)/for (int j = 0; j < PL; j++)/' test_cuda_moe ;;
    C3) mut C3 src/cuda/attend.cuh '220s/len - 1 < j0 + tk)/len - 1 < j0 + tk - 1)/' test_cuda_model ;;
    C4) mut C4 src/cuda/qdecode_i8.cu '233s/const int g = j >> bsh;/const int g = j >> (bsh + 1);/' test_cuda_moe ;;
    C5) mut C5 src/cuda/attend.cuh '223s/__fdiv_rn(acc, sum)/__fmul_rn(acc, __frcp_rn(sum))/' test_cuda_model ;;
    C6) mut C6 src/cuda/rope.cu '13s/ia = a.neox ? p : 2 \* p, ib = a.neox ? p + h : 2 \* p + 1/ia = a.neox ? p : 2 * p + 1, ib = a.neox ? p + h : 2 * p/' test_cuda ;;
    C7) mut C7 src/cuda/norm.cu '309s/__fmul_rn(MODE == NORM_ADD_FAST ? t : zf_cu_round<DT>(t), w\[e\])/__fmul_rn(t, w[e])/' test_cuda ;;
    C8) mut C8 src/cuda/norm.cu '270s/v\[e\] = zf_cu_round<DT>(v\[e\]);/v[e] = v[e];/' test_cuda ;;
    D1) mut D1 src/cuda/qexpert_i8.cu '279s/__int2float_rn(S\[3\]), axv.z), s1, acc/__int2float_rn(S[3]), axv.z), s0, acc/' test_cuda_moe ;;
    D2) mut D2 src/cuda/qdecode.cu '348s/__shfl_down_sync(0xffffffffu, d\[0\], 8)/__shfl_down_sync(0xffffffffu, d[0], 4)/' test_cuda_moe ;;
    D3) mut D3 src/cuda/norm.cu '294s/zf_cu_st_async(&part\[q \* L + tid\]/zf_cu_st_async(\&part[q * L + (tid ^ 1)]/' test_cuda ;;
    D4) mut D4 src/cuda/qdecode.cu '491s/acc = a.exact ? zf_cu_rnd(a.xt, __fadd_rn(acc, p\[s\])) : __fadd_rn(acc, p\[s\])/acc = __fadd_rn(acc, p[s])/' test_cuda_moe ;;
    *) echo "$id: unknown" ;;
    esac
done
echo "total $(($(date +%s) - T0)) s"; git diff --stat 2>/dev/null | tail -1
