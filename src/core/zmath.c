/* The public exp / sigmoid / silu: the inline sequences of zmath.h. */
#include "core/zmath.h"

float zf_expf(float x) { return zf_exp_scalar(x); }
float zf_sigmoidf(float x) { return zf_sigmoid_scalar(x); }
float zf_siluf(float x) { return zf_silu_scalar(x); }
