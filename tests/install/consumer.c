/* A program that uses an installed zfast: checks the version macros and
 * runs one fused op against the library's own silu. */
#include <stdio.h>
#include <string.h>
#include <zfast.h>

int main(void) {
    if (strcmp(zf_version(), ZF_VERSION_STRING) != 0) {
        fprintf(stderr, "consumer: header says %s, library says %s\n", ZF_VERSION_STRING, zf_version());
        return 1;
    }
    float g[5] = {-3.0f, -0.5f, 0.25f, 1.5f, 7.0f}, u[5] = {2.0f, -1.0f, 3.0f, 0.5f, -4.0f}, out[5];
    zf_tensor tg = zf_tensor_1d(g, ZF_DTYPE_F32, 5), tu = zf_tensor_1d(u, ZF_DTYPE_F32, 5);
    zf_tensor to = zf_tensor_1d(out, ZF_DTYPE_F32, 5);
    if (zf_swiglu(&tg, &tu, &to, NULL) != ZF_OK) {
        fprintf(stderr, "consumer: zf_swiglu failed: %s\n", zf_last_error());
        return 1;
    }
    for (int i = 0; i < 5; i++)
        if (out[i] != zf_siluf(g[i]) * u[i]) {
            fprintf(stderr, "consumer: swiglu[%d] = %g, expected %g\n", i, out[i], zf_siluf(g[i]) * u[i]);
            return 1;
        }
    /* and a bad call is an error with a message, not a crash */
    if (zf_swiglu(NULL, &tu, &to, NULL) == ZF_OK || zf_last_error()[0] == '\0') {
        fprintf(stderr, "consumer: a NULL argument was not reported\n");
        return 1;
    }
    printf("consumer ok: zfast %s\n", zf_version());
    return 0;
}
