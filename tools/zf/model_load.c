#include "model_load.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

double zf_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Prints when the whole percentage changes; ctx holds the last one shown. */
static void progress(int64_t done, int64_t total, void *ctx) {
    int *last = ctx;
    if (total <= 0) return;
    int pct = (int)(100.0 * (double)done / (double)total);
    if (pct == *last) return;
    *last = pct;
    fprintf(stderr, "\rloading: %3d%%", pct);
    if (done >= total) fputc('\n', stderr);
}

/* The same, for the upload of the weights to the GPU. */
static void upload_progress(int64_t done, int64_t total, void *ctx) {
    int *last = ctx;
    if (total <= 0) return;
    int pct = (int)(100.0 * (double)done / (double)total);
    if (pct == *last) return;
    *last = pct;
    fprintf(stderr, "\ruploading to the GPU: %3d%%", pct);
    if (done >= total) fputc('\n', stderr);
}

static zf_status model_with_progress(const zf_model_file *f, const zf_model_opts *o, zf_model **out) {
    zf_model_opts mo = o ? *o : zf_model_opts_default();
    int upload_pct = -1;
    if (mo.device == ZF_DEVICE_CUDA && !mo.progress) {
        mo.progress = upload_progress;
        mo.progress_ctx = &upload_pct;
    }
    return zf_model_from_file(f, &mo, out);
}

int zf_load_another_model(const zf_loaded_model *lm, const zf_model_opts *o, zf_model **out) {
    if (model_with_progress(lm->file, o, out) == ZF_OK) return 0;
    fprintf(stderr, "zf: model on %s: %s\n", zf_backend_name(o->device), zf_last_error());
    return 1;
}

int zf_model_dtype_parse(const char *s, zf_model_opts *o) {
    zf_dtype t;
    if (zf_dtype_parse(s, &t) != ZF_OK || !(t == ZF_DTYPE_F32 || t == ZF_DTYPE_BF16 || t == ZF_DTYPE_F16)) return -1;
    o->act_dtype = o->kv_dtype = t;
    return 0;
}

int zf_backend_parse(const char *s, zf_device *out) {
    if (strcmp(s, "cpu") == 0) *out = ZF_DEVICE_CPU;
    else if (strcmp(s, "cuda") == 0) *out = ZF_DEVICE_CUDA;
    else return -1;
    return 0;
}

const char *zf_backend_name(zf_device d) { return d == ZF_DEVICE_CUDA ? "cuda" : "cpu"; }

static int fail(zf_loaded_model *m, const char *what) {
    fprintf(stderr, "zf: %s: %s\n", what, zf_last_error());
    zf_unload_model(m);
    return 1;
}

int zf_load_model(const char *path, int need_vocab, const zf_model_opts *o, zf_loaded_model *out) {
    memset(out, 0, sizeof *out);
    double t0 = zf_now();
    int last_pct = -1;
    if (zf_model_file_open(path, progress, &last_pct, &out->file) != ZF_OK) return fail(out, path);
    zf_vocab_data v;
    if (zf_model_file_vocab(out->file, &v) == ZF_OK) {
        if (zf_tokenizer_create(&v, &out->tok) != ZF_OK) return fail(out, "tokenizer");
    } else if (need_vocab) {
        return fail(out, "this command needs the model's vocabulary");
    }
    if (model_with_progress(out->file, o, &out->model) != ZF_OK) return fail(out, "model");
    out->load_seconds = zf_now() - t0;
    return 0;
}

void zf_unload_model(zf_loaded_model *m) {
    if (m->model) zf_model_destroy(m->model);
    if (m->tok) zf_tokenizer_free(m->tok);
    if (m->file) zf_model_file_close(m->file);
    memset(m, 0, sizeof *m);
}
