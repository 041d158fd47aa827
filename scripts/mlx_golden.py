#!/usr/bin/env python3
"""Golden data for tests/test_quant.c, made by MLX itself (pip install "mlx[cpu]").

For every bits x group size x dtype T: random weights w [E=2, n=7, k=3*gs] in T
(row 0 group 0 constant, row 1 group 1 all zero, to hit max == min and the
zero group), MLX's quantize (packed, scales, biases in T), MLX's dequantize,
and quantized_matmul / gather_qmm on f32 x. One little-endian file per case,
tests/data/mlx/q{bits}_g{gs}_{T}.bin, sections in this order:

  header  8 x i32: bits, gs, dtype (0 f32, 1 f16, 2 bf16), E, n, k, m, slots
  w       E*n*k      T
  packed  E*n*k*bits/32 u32
  scales  E*n*k/gs   T
  biases  E*n*k/gs   T
  deq     E*n*k      T      mx.dequantize
  x       m*k        f32
  y_qmm   m*n        f32    quantized_matmul(x, W[0])
  ids     m*slots    i32
  y_gqmm  m*slots*n  f32    gather_qmm(x, W, ids)

Usage: python3 scripts/mlx_golden.py [outdir]   (default tests/data/mlx)
"""
import os
import sys

import mlx.core as mx
import numpy as np

DTYPES = [("f32", mx.float32, 0), ("f16", mx.float16, 1), ("bf16", mx.bfloat16, 2)]
E, N, M, SLOTS = 2, 7, 3, 2


def raw(a, dt=None):
    a = a if dt is None else a.astype(dt)
    if a.dtype in (mx.float16, mx.bfloat16):  # keep the 16-bit patterns
        return np.array(a.view(mx.uint16)).astype("<u2").tobytes()
    return np.array(a).tobytes()


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data", "mlx")
    os.makedirs(out, exist_ok=True)
    mx.random.seed(20240601)
    total = 0
    for bits in (2, 3, 4, 5, 6, 8):
        for gs in (32, 64, 128):
            for name, dt, code in DTYPES:
                k = 3 * gs
                w = (mx.random.normal((E, N, k)) * 0.05).astype(dt)
                w[0, 0, :gs] = mx.array(0.03, dtype=dt)
                w[0, 1, gs:2 * gs] = mx.array(0.0, dtype=dt)
                q, s, b = mx.quantize(w, group_size=gs, bits=bits)
                deq = mx.dequantize(q, s, b, group_size=gs, bits=bits)
                x = mx.random.normal((M, k))
                y = mx.quantized_matmul(x, q[0], s[0], b[0], transpose=True, group_size=gs, bits=bits)
                ids = mx.random.randint(0, E, (M, SLOTS)).astype(mx.int32)
                yg = mx.gather_qmm(x[:, None, None, :], q, s, b, rhs_indices=ids.astype(mx.uint32),
                                   transpose=True, group_size=gs, bits=bits)
                mx.eval(q, s, b, deq, y, yg)
                blob = np.array([bits, gs, code, E, N, k, M, SLOTS], dtype="<i4").tobytes()
                blob += raw(w) + np.array(q).astype("<u4").tobytes() + raw(s) + raw(b) + raw(deq)
                blob += raw(x) + raw(y, mx.float32) + np.array(ids).astype("<i4").tobytes()
                blob += raw(yg.reshape(M, SLOTS, N), mx.float32)
                path = os.path.join(out, f"q{bits}_g{gs}_{name}.bin")
                with open(path, "wb") as f:
                    f.write(blob)
                total += len(blob)
    print(f"wrote 54 cases, {total} bytes, to {out} (mlx {mx.__version__})")


if __name__ == "__main__":
    main()
