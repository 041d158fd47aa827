#!/usr/bin/env bash
# session 19 run 11 (right after run 10, same machine: build-gpu and .smolA kept): SmolLM2-135M-Instruct Q4_1 joined
# from .smolA + .smolB (sha256 checked); --compare cpu,cuda in stable, validate --backend cuda, the capital of France,
# bench with and without the replayed graph; memcheck of test_cuda_model (quick) if time is left.
ROOT=$PWD; . scripts/gpu-env.sh
export ZF_COMMIT=${ZF_COMMIT:-unknown}
B=$ROOT/build-gpu; t0=$(date +%s)
# the first half: .smolA where the copy kept it, else /tmp/smolA (copied there by a call that carried it)
A=.smolA; [ -f $A ] || A=/tmp/smolA
S=/tmp/smol.gguf; cat $A .smolB > $S
echo "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53  $S" | sha256sum -c || exit 1
timeout 300 $B/zf validate $S -n 64 --runs 1 --compare cpu,cuda -o $OUT/compare-smollm2.json > $OUT/compare-smollm2.txt 2>&1; echo "compare rc=$? $(( $(date +%s) - t0 )) s"; tail -4 $OUT/compare-smollm2.txt
timeout 120 $B/zf validate $S -n 64 --runs 2 --backend cuda -o $OUT/validate-smollm2-cuda.json > /tmp/v.txt 2>&1; echo "validate cuda rc=$? $(( $(date +%s) - t0 )) s"; tail -3 /tmp/v.txt
timeout 60 $B/zf run $S --chat -p "What is the capital of France?" -n 24 --backend cuda 2>&1 | tail -3
for g in 1 0 1; do echo -n "bench graphs=$g: "; ZF_CUDA_GRAPHS=$g timeout 90 $B/zf bench $S -p 128 -n 64 -r 3 --backend cuda -o $OUT/bench-smollm2-cuda-g$g.json 2>&1 | tr '\r' '\n' | grep -E "^(prefill|decode) +[0-9]+ tokens" | tr -s ' ' | tr '\n' ' '; echo; done
left=$(( 560 - ($(date +%s) - t0) ))
if [ $left -gt 60 ]; then ZF_TEST_QUICK=1 timeout $left compute-sanitizer --tool memcheck --error-exitcode 9 $B/tests/cuda/test_cuda_model > $OUT/memcheck-model.txt 2>&1; echo "memcheck test_cuda_model rc=$?"; grep -E "ERROR SUMMARY|checks" $OUT/memcheck-model.txt | tail -2; fi
echo "total $(( $(date +%s) - t0 )) s"
