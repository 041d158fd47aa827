/* CUDA model ops against the CPU stock path, bit for bit (any NaN equals any
 * NaN), on fresh random inputs: embedding (float tables of every dtype pair,
 * affine tables of every bits x group size x scale dtype), rope (both pair
 * styles, in place, real tables at several positions), softmax, attention
 * (GQA ratios, causal with positions, a strided KV-cache view, q/kv dtype
 * pairs, head_dim above 256), attention_decode (every dtype pair, with and
 * without the q/k norms, replayed in a graph at positions written to the
 * device, p outside), float matmul (every x/W dtype pair, odd k),
 * copy (into a KV-cache view); poisoned outputs with device guards; bad
 * arguments fail with a message and write nothing. Then whole models: tiny
 * synthetic llama and qwen3_moe (GGUF and MLX, f32 and bf16 activations)
 * give the same logits bits on the CPU and on CUDA, prefill in steps and
 * decode (one-token steps replayed as a graph, and kernel by kernel; and
 * with more positions than attention_decode's shared memory holds, the
 * separate ops). Exits 77 when no CUDA device is usable. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cuda_loader.h"
#include "core/dtype.h"
#include "dbuf.h"
#include "harness.h"
#include "model/model.h"
#include "model/model_file.h"
#include "model/synth.h"

static int g_quick;
static zf_tensor on_dev(zf_tensor t, const dbuf *b) {
    t.data = b->p;
    t.device = ZF_DEVICE_CUDA;
    return t;
}
static size_t bytes_of(const zf_tensor *t) { return (size_t)zf_tensor_numel(t) * zf_dtype_size(t->dtype); }

/* The CUDA output (a poisoned buffer with guards) against the CPU's. */
static void compare(const char *what, const dbuf *got, const zf_tensor *want) {
    void *h = malloc(got->bytes);
    down(h, got);
    int64_t at = first_diff_nan(want->dtype, h, want->data, zf_tensor_numel(want));
    ZT_CHECK(at < 0, "%s: element %lld cuda %.9g, cpu %.9g", what, (long long)at, at < 0 ? 0.0 : zt_get(want->dtype, h, at),
             at < 0 ? 0.0 : zt_get(want->dtype, want->data, at));
    ZT_CHECK(guards_ok(got), "%s: a write outside the output", what);
    free(h);
}

static const zf_dtype k_dt[3] = {ZF_DTYPE_F32, ZF_DTYPE_F16, ZF_DTYPE_BF16};

/* ---- embedding ------------------------------------------------------------- */

static void test_embedding(void) {
    const int64_t vocab = 1000, dims[] = {1, 64, 577};
    int32_t ids[37];
    for (int i = 0; i < 37; i++) ids[i] = (int32_t)(zt_rand() % vocab);
    ids[5] = ids[4]; /* a repeat */
    ids[6] = (int32_t)vocab - 1;
    dbuf dids = dbuf_of(ids, sizeof ids);
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (size_t c = 0; c < sizeof dims / sizeof *dims; c++) {
                int64_t dim = dims[c], m = c == 0 ? 1 : 37;
                zf_tensor tab = zf_tensor_2d(malloc((size_t)(vocab * dim) * 4), k_dt[a], vocab, dim);
                zt_fill(k_dt[a], tab.data, vocab * dim, 5.0f);
                zf_tensor want = zf_tensor_2d(malloc((size_t)(m * dim) * 4), k_dt[b], m, dim);
                zf_tensor hid = zf_tensor_1d(ids, ZF_DTYPE_I32, m);
                ZT_OK(zf_embedding(&tab, &hid, &want, NULL));
                dbuf dt = dbuf_of(tab.data, bytes_of(&tab)), dout = dalloc(bytes_of(&want));
                zf_tensor t = on_dev(tab, &dt), o = on_dev(want, &dout), di = on_dev(hid, &dids);
                ZT_OK(zf_embedding(&t, &di, &o, NULL));
                char what[96];
                snprintf(what, sizeof what, "embedding %s -> %s, %lld x %lld", zf_dtype_name(k_dt[a]),
                         zf_dtype_name(k_dt[b]), (long long)m, (long long)dim);
                compare(what, &dout, &want);
                dfree(&dt);
                dfree(&dout);
                free(tab.data);
                free(want.data);
            }
    /* affine tables */
    const int bits[] = {2, 3, 4, 5, 6, 8}, gss[] = {32, 64, 128};
    for (size_t bi = 0; bi < 6; bi++)
        for (size_t gi = 0; gi < 3; gi++)
            for (int sd = 0; sd < 3; sd++) {
                int gs = gss[gi];
                int64_t dim = gs * (1 + (int64_t)(zt_rand() % 5)), m = 37, V = 300;
                zf_tensor w = zf_tensor_2d(malloc((size_t)(V * dim) * 4), ZF_DTYPE_F32, V, dim);
                zt_fill(ZF_DTYPE_F32, w.data, V * dim, 2.0f);
                size_t pb = (size_t)(V * dim * bits[bi] / 32) * 4, sb = (size_t)(V * dim / gs) * zf_dtype_size(k_dt[sd]);
                zf_qweight q = {malloc(pb), malloc(sb), malloc(sb), k_dt[sd], bits[bi], gs, 1, V, dim, ZF_DEVICE_CPU};
                ZT_OK(zf_quantize(&w, &q));
                int32_t qids[37];
                for (int i = 0; i < 37; i++) qids[i] = (int32_t)(zt_rand() % V);
                zf_dtype to = k_dt[(bi + gi + sd) % 3];
                zf_tensor want = zf_tensor_2d(malloc((size_t)(m * dim) * 4), to, m, dim);
                zf_tensor hid = zf_tensor_1d(qids, ZF_DTYPE_I32, m);
                ZT_OK(zf_embedding_q(&q, &hid, &want, NULL));
                dbuf dp = dbuf_of(q.packed, pb), ds = dbuf_of(q.scales, sb), db = dbuf_of(q.biases, sb), di = dbuf_of(qids, sizeof qids);
                dbuf dout = dalloc(bytes_of(&want));
                zf_qweight qd = q;
                qd.packed = dp.p;
                qd.scales = ds.p;
                qd.biases = db.p;
                qd.device = ZF_DEVICE_CUDA;
                zf_tensor o = on_dev(want, &dout), dids2 = on_dev(hid, &di);
                ZT_OK(zf_embedding_q(&qd, &dids2, &o, NULL));
                char what[96];
                snprintf(what, sizeof what, "embedding_q %d-bit gs %d %s scales -> %s, dim %lld", bits[bi], gs,
                         zf_dtype_name(k_dt[sd]), zf_dtype_name(to), (long long)dim);
                compare(what, &dout, &want);
                /* the table on the host: refused, nothing written */
                zf_cuda_plugin_loaded(NULL)->mem->fill(dout.p, 0x7f, dout.bytes, NULL);
                ZT_CHECK(zf_embedding_q(&q, &dids2, &o, NULL) != ZF_OK, "embedding_q with a host table accepted");
                dbuf *all[] = {&dp, &ds, &db, &di, &dout};
                for (int i = 0; i < 5; i++) dfree(all[i]);
                free(w.data);
                free((void *)q.packed);
                free((void *)q.scales);
                free((void *)q.biases);
                free(want.data);
            }
    dfree(&dids);
}

/* ---- rope, softmax, copy ------------------------------------------------------- */

static void test_rope(void) {
    const int64_t ms[] = {1, 5, 33}, heads[] = {1, 3, 9}, dims[] = {2, 64, 130}, p0s[] = {0, 17, 3000};
    for (int d = 0; d < 3; d++)
        for (int c = 0; c < 3; c++)
            for (int neox = 0; neox < 2; neox++)
                for (int inplace = 0; inplace < 2; inplace++) {
                    int64_t m = ms[c], h = heads[(c + neox) % 3], D = dims[(c + inplace + d) % 3];
                    int64_t xs[3] = {m, h, D}, cshape[3] = {m, D / 2, 2};
                    zf_tensor x = zf_tensor_nd(malloc((size_t)(m * h * D) * 4), k_dt[d], 3, xs);
                    zf_tensor want = zf_tensor_nd(malloc((size_t)(m * h * D) * 4), k_dt[d], 3, xs);
                    zf_tensor cs = zf_tensor_nd(malloc((size_t)(m * D) * 4), ZF_DTYPE_F32, 3, cshape);
                    zt_fill(k_dt[d], x.data, m * h * D, 20.0f);
                    ZT_OK(zf_rope_table(c == 2 ? 1e6f : 1e4f, D, p0s[c], &cs));
                    dbuf dx = dbuf_of(x.data, bytes_of(&x)), dc = dbuf_of(cs.data, bytes_of(&cs)), dout = dalloc(bytes_of(&x));
                    ZT_OK(zf_rope(&x, &cs, neox, &want, NULL));
                    zf_tensor tx = on_dev(x, &dx), tc = on_dev(cs, &dc), to = on_dev(x, inplace ? &dx : &dout);
                    ZT_OK(zf_rope(&tx, &tc, neox, &to, NULL));
                    char what[96];
                    snprintf(what, sizeof what, "rope %s [%lld, %lld, %lld] from %lld, neox %d%s",
                             zf_dtype_name(k_dt[d]), (long long)m, (long long)h, (long long)D, (long long)p0s[c],
                             neox, inplace ? ", in place" : "");
                    compare(what, inplace ? &dx : &dout, &want);
                    dfree(&dx);
                    dfree(&dc);
                    dfree(&dout);
                    free(x.data);
                    free(want.data);
                    free(cs.data);
                }
}

static void test_softmax(void) {
    const int64_t ns[] = {1, 7, 255, 256, 257, 4099};
    for (int d = 0; d < 3; d++)
        for (size_t c = 0; c < sizeof ns / sizeof *ns; c++) {
            int64_t rows = 1 + c % 4, n = ns[c];
            zf_tensor x = zf_tensor_2d(malloc((size_t)(rows * n) * 4), k_dt[d], rows, n);
            zf_tensor want = zf_tensor_2d(malloc((size_t)(rows * n) * 4), k_dt[d], rows, n);
            zt_fill(k_dt[d], x.data, rows * n, 12.0f);
            if (c == 2) zt_set(k_dt[d], x.data, 3, NAN); /* a later NaN: the row is NaN */
            ZT_OK(zf_softmax(&x, &want, NULL));
            dbuf dx = dbuf_of(x.data, bytes_of(&x)), dout = dalloc(bytes_of(&x));
            zf_tensor tx = on_dev(x, &dx), to = on_dev(want, &dout);
            ZT_OK(zf_softmax(&tx, &to, NULL));
            char what[64];
            snprintf(what, sizeof what, "softmax %s [%lld, %lld]", zf_dtype_name(k_dt[d]), (long long)rows, (long long)n);
            compare(what, &dout, &want);
            dfree(&dx);
            dfree(&dout);
            free(x.data);
            free(want.data);
        }
}

/* n rows of [heads, D] into a [heads, ctx, D] cache view at pos. */
static void test_copy(void) {
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++) {
            int64_t n = 1 + (int64_t)(zt_rand() % 9), heads = 1 + (int64_t)(zt_rand() % 4), D = 1 + (int64_t)(zt_rand() % 130);
            int64_t ctx = n + 5, pos = 3, xs[3] = {n, heads, D}, cs[3] = {heads, ctx, D};
            zf_tensor x = zf_tensor_nd(malloc((size_t)(n * heads * D) * 4), k_dt[a], 3, xs);
            zf_tensor cache = zf_tensor_nd(malloc((size_t)(heads * ctx * D) * 4), k_dt[b], 3, cs);
            zt_fill(k_dt[a], x.data, n * heads * D, 100.0f);
            memset(cache.data, 0x7f, bytes_of(&cache));
            dbuf dx = dbuf_of(x.data, bytes_of(&x)), dc = dalloc(bytes_of(&cache));
            zf_tensor view = x, dview;
            view.dtype = k_dt[b];
            view.stride[0] = D;
            view.stride[1] = ctx * D;
            view.data = (char *)cache.data + (size_t)(pos * D) * zf_dtype_size(k_dt[b]);
            dview = view;
            dview.data = (char *)dc.p + (size_t)(pos * D) * zf_dtype_size(k_dt[b]);
            dview.device = ZF_DEVICE_CUDA;
            ZT_OK(zf_copy(&x, &view, NULL));
            zf_tensor tx = on_dev(x, &dx);
            ZT_OK(zf_copy(&tx, &dview, NULL));
            char what[96];
            snprintf(what, sizeof what, "copy %s -> %s cache view [%lld, %lld, %lld]", zf_dtype_name(k_dt[a]),
                     zf_dtype_name(k_dt[b]), (long long)n, (long long)heads, (long long)D);
            compare(what, &dc, &cache);
            dfree(&dx);
            dfree(&dc);
            free(x.data);
            free(cache.data);
        }
}

/* ---- attention, matmul ---------------------------------------------------------- */

/* One zf_attention call on the device against the CPU's, bit for bit: m
 * queries over t keys (a view of a cache of t + 3 rows), hq heads over hkv
 * kv heads, head_dim d, q in tq, k and v in tkv. */
static void attention_case(int64_t m, int64_t t, int64_t hq, int64_t hkv, int64_t d, zf_dtype tq, zf_dtype tkv) {
    const int64_t L = t + 3; /* the cache holds more than the view */
    int64_t qs[3] = {m, hq, d}, ks[3] = {hkv, t, d};
    zf_tensor q = zf_tensor_nd(malloc((size_t)(m * hq * d) * 4), tq, 3, qs);
    zf_tensor want = zf_tensor_nd(malloc((size_t)(m * hq * d) * 4), tq, 3, qs);
    size_t kvb = (size_t)(hkv * L * d) * zf_dtype_size(tkv);
    void *kh = malloc(kvb), *vh = malloc(kvb);
    zt_fill(tq, q.data, m * hq * d, 2.0f);
    zt_fill(tkv, kh, hkv * L * d, 2.0f);
    zt_fill(tkv, vh, hkv * L * d, 3.0f);
    zf_tensor k = zf_tensor_nd(kh, tkv, 3, ks), v = zf_tensor_nd(vh, tkv, 3, ks);
    k.stride[0] = v.stride[0] = L * d;
    float scale = 1.0f / sqrtf((float)d);
    ZT_OK(zf_attention(&q, &k, &v, scale, &want, NULL));
    dbuf dq = dbuf_of(q.data, bytes_of(&q)), dk = dbuf_of(kh, kvb), dv = dbuf_of(vh, kvb), dout = dalloc(bytes_of(&q));
    zf_tensor tq_ = on_dev(q, &dq), tk_ = on_dev(k, &dk), tv_ = on_dev(v, &dv), to = on_dev(want, &dout);
    ZT_OK(zf_attention(&tq_, &tk_, &tv_, scale, &to, NULL));
    char what[128];
    snprintf(what, sizeof what, "attention q %s kv %s, %lld queries of %lld keys, heads %lld/%lld, d %lld",
             zf_dtype_name(tq), zf_dtype_name(tkv), (long long)m, (long long)t, (long long)hq, (long long)hkv,
             (long long)d);
    compare(what, &dout, &want);
    dbuf *all[] = {&dq, &dk, &dv, &dout};
    for (int i = 0; i < 4; i++) dfree(all[i]);
    free(q.data);
    free(want.data);
    free(kh);
    free(vh);
}

static void test_attention(void) {
    /* (queries, keys), (heads, kv heads), head_dim */
    /* {2, 3000}: with q f16, kv f32 and d 64, 48 KiB - 32 B of dynamic shared memory, over the default limit
     * only with the kernel's static memory (the opt-in must count it) */
    const int64_t mt[][2] = {{1, 1}, {1, 17}, {1, 300}, {7, 7}, {5, 129}, {33, 600}, {1, 2049}, {2, 3000}};
    const int64_t hh[][2] = {{4, 4}, {8, 2}, {9, 3}, {6, 1}};
    /* head_dim 18: rows of 36 or 72 bytes, copied into the tiles element by element; 300: no tiles */
    const int64_t ds[] = {16, 64, 72, 128, 256, 300, 18};
    int n_mt = g_quick ? 5 : 8;
    for (int c = 0; c < n_mt; c++)
        for (int tq = 0; tq < 3; tq++)
            for (int tk = 0; tk < 3; tk++)
                attention_case(mt[c][0], mt[c][1], hh[(c + tk) % 4][0], hh[(c + tk) % 4][1], ds[(c + tq + tk) % 7],
                               k_dt[tq], k_dt[tk]);
}

/* A context whose tiles would leave no room for the scores (head_dim 256,
 * f32 keys: 132 KB of tiles; 40000 keys: 156 KB of scores) takes the warp
 * path: bit for bit against the CPU, not ZF_ERR_UNSUPPORTED. (Not in the
 * quick run: the warp path is the d = 300 cases' too.) */
static void test_attention_long(void) {
    if (!g_quick) attention_case(2, 40000, 2, 1, 256, ZF_DTYPE_F32, ZF_DTYPE_F32);
}

/* zf_attention_decode: the CUDA kernel against the CPU composition, bit for
 * bit in out and both caches (every activation / cache dtype pair, GQA
 * ratios, both pair styles, with and without the q and k norms, p at 0,
 * inside and at the last position); then one recording (with the norms)
 * replayed at three positions written to the device between launches (the
 * point of reading p there), against the CPU op at each; then p outside
 * [0, positions): NaN out, caches untouched. */
typedef struct dec_host {
    zf_tensor q, k, v, cs, pos, kc, vc, out, wq, wk;
    int32_t p;
} dec_host;

static void dec_host_make(dec_host *h, zf_dtype ta, zf_dtype tc, int64_t hq, int64_t hk, int64_t d, int64_t L) {
    int64_t sq[3] = {1, hq, d}, sk[3] = {1, hk, d}, sc[3] = {hk, L, d}, st[3] = {L, d / 2, 2};
    h->q = zf_tensor_nd(malloc((size_t)(hq * d) * 4), ta, 3, sq);
    h->out = zf_tensor_nd(malloc((size_t)(hq * d) * 4), ta, 3, sq);
    h->k = zf_tensor_nd(malloc((size_t)(hk * d) * 4), ta, 3, sk);
    h->v = zf_tensor_nd(malloc((size_t)(hk * d) * 4), ta, 3, sk);
    h->kc = zf_tensor_nd(malloc((size_t)(hk * L * d) * 4), tc, 3, sc);
    h->vc = zf_tensor_nd(malloc((size_t)(hk * L * d) * 4), tc, 3, sc);
    h->cs = zf_tensor_nd(malloc((size_t)(L * d) * 4), ZF_DTYPE_F32, 3, st);
    h->wq = zf_tensor_1d(malloc((size_t)d * 4), ta, d);
    h->wk = zf_tensor_1d(malloc((size_t)d * 4), ta, d);
    h->pos = zf_tensor_1d(&h->p, ZF_DTYPE_I32, 1);
    zt_fill(ta, h->q.data, hq * d, 2.0f);
    zt_fill(ta, h->k.data, hk * d, 2.0f);
    zt_fill(ta, h->v.data, hk * d, 3.0f);
    zt_fill(tc, h->kc.data, hk * L * d, 2.0f);
    zt_fill(tc, h->vc.data, hk * L * d, 3.0f);
    zt_fill(ta, h->wq.data, d, 1.5f);
    zt_fill(ta, h->wk.data, d, 1.5f);
    ZT_OK(zf_rope_table(10000.0f, d, 0, &h->cs));
}

static void dec_host_free(dec_host *h) {
    zf_tensor *all[] = {&h->q, &h->k, &h->v, &h->cs, &h->kc, &h->vc, &h->out, &h->wq, &h->wk};
    for (int i = 0; i < 9; i++) free(all[i]->data);
}

/* The device copies of a case (out poisoned with guards, not copied). */
typedef struct dec_dev {
    dbuf q, k, v, cs, pos, kc, vc, out, wq, wk;
    zf_tensor tq, tk, tv, tcs, tpos, tkc, tvc, tout, twq, twk;
} dec_dev;

static void dec_dev_make(dec_dev *d, const dec_host *h) {
    d->q = dbuf_of(h->q.data, bytes_of(&h->q));
    d->k = dbuf_of(h->k.data, bytes_of(&h->k));
    d->v = dbuf_of(h->v.data, bytes_of(&h->v));
    d->cs = dbuf_of(h->cs.data, bytes_of(&h->cs));
    d->pos = dbuf_of(&h->p, 4);
    d->kc = dbuf_of(h->kc.data, bytes_of(&h->kc));
    d->vc = dbuf_of(h->vc.data, bytes_of(&h->vc));
    d->out = dalloc(bytes_of(&h->out));
    d->wq = dbuf_of(h->wq.data, bytes_of(&h->wq));
    d->wk = dbuf_of(h->wk.data, bytes_of(&h->wk));
    d->tq = on_dev(h->q, &d->q), d->tk = on_dev(h->k, &d->k), d->tv = on_dev(h->v, &d->v);
    d->tcs = on_dev(h->cs, &d->cs), d->tpos = on_dev(h->pos, &d->pos), d->tkc = on_dev(h->kc, &d->kc);
    d->tvc = on_dev(h->vc, &d->vc), d->tout = on_dev(h->out, &d->out), d->twq = on_dev(h->wq, &d->wq);
    d->twk = on_dev(h->wk, &d->wk);
}

static void dec_dev_free(dec_dev *d) {
    dbuf *all[] = {&d->q, &d->k, &d->v, &d->cs, &d->pos, &d->kc, &d->vc, &d->out, &d->wq, &d->wk};
    for (int i = 0; i < 10; i++) dfree(all[i]);
}

/* One zf_attention_decode on the device against the CPU composition, bit
 * for bit in out and both caches: activations ta, caches tc, hq heads over
 * hk kv heads, head_dim d, L positions, the token at p, pair style neox,
 * the q and k norms when nm. */
static void decode_case(zf_dtype ta, zf_dtype tc, int64_t hq, int64_t hk, int64_t d, int64_t L, int32_t p, int neox,
                        int nm) {
    dec_host h;
    dec_host_make(&h, ta, tc, hq, hk, d, L);
    h.p = p;
    dec_dev dv;
    dec_dev_make(&dv, &h);
    const zf_qk_norm hn = {&h.wq, &h.wk, 1e-5f}, dn = {&dv.twq, &dv.twk, 1e-5f};
    ZT_OK(zf_attention_decode(&h.q, &h.k, &h.v, nm ? &hn : NULL, &h.cs, neox, &h.pos, &h.kc, &h.vc, 0.125f, &h.out,
                              NULL));
    ZT_OK(zf_attention_decode(&dv.tq, &dv.tk, &dv.tv, nm ? &dn : NULL, &dv.tcs, neox, &dv.tpos, &dv.tkc, &dv.tvc,
                              0.125f, &dv.tout, NULL));
    char what[160];
    snprintf(what, sizeof what, "attention_decode %s/%s heads %lld/%lld d %lld, p %d of %lld, neox %d%s",
             zf_dtype_name(ta), zf_dtype_name(tc), (long long)hq, (long long)hk, (long long)d, (int)p, (long long)L,
             neox, nm ? ", q/k norms" : "");
    compare(what, &dv.out, &h.out);
    compare(what, &dv.kc, &h.kc);
    compare(what, &dv.vc, &h.vc);
    dec_dev_free(&dv);
    dec_host_free(&h);
}

static void test_attention_decode(void) {
    /* one recording, replayed at positions written between launches; the process's first call of the op is
     * inside the recording, so its self-test runs beside the capture */
    zf_stream *s;
    ZT_OK(zf_stream_create(&s));
    zf_opts o = {.stream = s};
    dec_host h;
    const int64_t L = 50;
    dec_host_make(&h, ZF_DTYPE_BF16, ZF_DTYPE_F16, 8, 2, 64, L);
    h.p = 0;
    zt_cuda_stream = s;
    dec_dev d;
    dec_dev_make(&d, &h);
    const zf_qk_norm hn = {&h.wq, &h.wk, 1e-6f}, dn = {&d.twq, &d.twk, 1e-6f};
    zf_graph *g = NULL;
    ZT_OK(zf_graph_begin(s));
    ZT_OK(zf_attention_decode(&d.tq, &d.tk, &d.tv, &dn, &d.tcs, 1, &d.tpos, &d.tkc, &d.tvc, 0.3f, &d.tout, &o));
    ZT_OK(zf_graph_end(s, &g));
    const int32_t ps[] = {7, 0, 49};
    for (int i = 0; i < 3 && g; i++) {
        h.p = ps[i];
        ZT_OK(zf_memcpy(d.pos.p, ZF_DEVICE_CUDA, &h.p, ZF_DEVICE_CPU, 4, s));
        ZT_OK(zf_graph_launch(g, s));
        ZT_OK(zf_attention_decode(&h.q, &h.k, &h.v, &hn, &h.cs, 1, &h.pos, &h.kc, &h.vc, 0.3f, &h.out, NULL));
        char what[64];
        snprintf(what, sizeof what, "attention_decode graph replay at p %d", (int)h.p);
        compare(what, &d.out, &h.out);
        compare(what, &d.kc, &h.kc);
        compare(what, &d.vc, &h.vc);
    }
    /* p outside the positions: NaN out, caches as they were */
    const int32_t bad[] = {(int32_t)L, -1};
    for (int i = 0; i < 2; i++) {
        ZT_OK(zf_memcpy(d.pos.p, ZF_DEVICE_CUDA, &bad[i], ZF_DEVICE_CPU, 4, s));
        ZT_OK(zf_attention_decode(&d.tq, &d.tk, &d.tv, &dn, &d.tcs, 1, &d.tpos, &d.tkc, &d.tvc, 0.3f, &d.tout, &o));
        uint16_t got[8 * 64];
        down(got, &d.out);
        int nan = 1;
        for (int j = 0; j < 8 * 64; j++) nan &= zt_get(ZF_DTYPE_BF16, got, j) != zt_get(ZF_DTYPE_BF16, got, j);
        ZT_CHECK(nan, "attention_decode at p %d: out is not all NaN", (int)bad[i]);
        compare("attention_decode with p outside: k cache", &d.kc, &h.kc);
        compare("attention_decode with p outside: v cache", &d.vc, &h.vc);
    }
    zf_graph_destroy(g);
    zt_cuda_stream = NULL;
    dec_dev_free(&d);
    dec_host_free(&h);
    zf_stream_destroy(s);
    /* head_dim: 18 (rows of 36 or 72 bytes: copied element by element), up to 64, 128 and 256 (the tiled
     * kernel's three lane counts), 320 (the warp-per-key path) */
    const int64_t hh[][2] = {{4, 4}, {8, 2}, {9, 3}, {6, 1}}, ds[] = {16, 64, 72, 128, 256, 18, 320};
    const int64_t Ls[] = {1, 5, 40, 300, 2049};
    for (int c = 0; c < (g_quick ? 3 : 5); c++)
        for (int ta = 0; ta < 3; ta++)
            for (int tc = 0; tc < 3; tc++)
                for (int nm = 0; nm < 2; nm++) {
                    const int64_t L = Ls[c];
                    const int32_t p = (int32_t)((c + ta + tc) % 3 == 0 ? 0 : (c + ta + tc) % 3 == 1 ? L - 1 : L / 2);
                    decode_case(k_dt[ta], k_dt[tc], hh[(c + tc) % 4][0], hh[(c + tc) % 4][1], ds[(c + ta + tc + nm) % 7],
                                L, p, (c + ta + tc) % 2, nm);
                }
    /* p + 1 keys a multiple of every tile size (32, 64 and 128 keys): the last key, which the kernel takes
     * from its own copy, is then the last row of the last tile (an off-by-one there passed every case above) */
    const int32_t edge[] = {31, 127, 255};
    for (int i = 0; i < 3; i++)
        for (int tc = 0; tc < 3; tc++)
            decode_case(ZF_DTYPE_BF16, k_dt[tc], 8, 2, ds[(i + tc) % 5], 300, edge[i], (i + tc) % 2, tc % 2);
    /* 50000 positions of head_dim 128, f32: even 32-key tiles (68 KB) leave no room for the scores (195 KB), so
     * the kernel takes the warp path instead of refusing */
    if (!g_quick) decode_case(ZF_DTYPE_F32, ZF_DTYPE_F32, 4, 1, 128, 50000, 49999, 1, 0);
}

static void test_matmul(void) {
    const int64_t ms[] = {1, 3, 4, 5, 17}, ks[] = {1, 7, 255, 256, 257, 576, 1000}, ns[] = {1, 9, 33};
    for (int a = 0; a < 3; a++)
        for (int b = 0; b < 3; b++)
            for (int c = 0; c < 7; c++) {
                int64_t m = ms[(c + a) % 5], k = ks[c], n = ns[(c + b) % 3];
                zf_tensor x = zf_tensor_2d(malloc((size_t)(m * k) * 4), k_dt[a], m, k);
                zf_tensor w = zf_tensor_2d(malloc((size_t)(n * k) * 4), k_dt[b], n, k);
                zf_tensor want = zf_tensor_2d(malloc((size_t)(m * n) * 4), k_dt[a], m, n);
                zt_fill(k_dt[a], x.data, m * k, 2.0f);
                zt_fill(k_dt[b], w.data, n * k, 1.0f);
                ZT_OK(zf_matmul(&x, &w, &want, NULL));
                dbuf dx = dbuf_of(x.data, bytes_of(&x)), dw = dbuf_of(w.data, bytes_of(&w)), dy = dalloc(bytes_of(&want));
                zf_tensor tx = on_dev(x, &dx), tw = on_dev(w, &dw), ty = on_dev(want, &dy);
                ZT_OK(zf_matmul(&tx, &tw, &ty, NULL));
                char what[96];
                snprintf(what, sizeof what, "matmul x %s W %s, [%lld, %lld] x [%lld, %lld]", zf_dtype_name(k_dt[a]),
                         zf_dtype_name(k_dt[b]), (long long)m, (long long)k, (long long)n, (long long)k);
                compare(what, &dy, &want);
                dfree(&dx);
                dfree(&dw);
                dfree(&dy);
                free(x.data);
                free(w.data);
                free(want.data);
            }
}

/* ---- bad arguments: an error with the op's name, nothing written ------------------ */

static void test_errors(void) {
    int64_t qs[3] = {1, 4, 16}, ks[3] = {2, 8, 16};
    dbuf dq = dalloc(64 * 4), dk = dalloc(256 * 4), dv = dalloc(256 * 4), dout = dalloc(64 * 4);
    float host[256];
    zt_fill(ZF_DTYPE_F32, host, 256, 1.0f);
    zf_tensor q = on_dev(zf_tensor_nd(NULL, ZF_DTYPE_F32, 3, qs), &dq), k = on_dev(zf_tensor_nd(NULL, ZF_DTYPE_F32, 3, ks), &dk);
    zf_tensor v = on_dev(k, &dv), out = on_dev(q, &dout), hk = zf_tensor_nd(host, ZF_DTYPE_F32, 3, ks);
    ZT_CHECK(zf_attention(&q, &hk, &v, 0.25f, &out, NULL) != ZF_OK, "attention with a host k accepted");
    ZT_CHECK(strstr(zf_last_error(), "[attention]") != NULL, "message: %s", zf_last_error());
    zf_tensor bad = k;
    bad.shape[0] = 3;
    ZT_CHECK(zf_attention(&q, &bad, &v, 0.25f, &out, NULL) == ZF_ERR_SHAPE, "4 heads over 3 kv heads: %s",
             zf_last_error());
    ZT_CHECK(zf_attention(&q, &k, &v, NAN, &out, NULL) == ZF_ERR_INVALID_ARG, "NaN scale: %s", zf_last_error());
    bad = k;
    bad.shape[1] = 1 << 20; /* scores beyond shared memory */
    bad.stride[0] = 0;
    ZT_CHECK(zf_attention(&q, &bad, &bad, 0.25f, &out, NULL) == ZF_ERR_UNSUPPORTED, "2^20 keys: %s", zf_last_error());
    zf_tensor y = on_dev(zf_tensor_2d(NULL, ZF_DTYPE_F16, 1, 8), &dout), x = on_dev(zf_tensor_2d(NULL, ZF_DTYPE_F32, 1, 16), &dq);
    zf_tensor w = on_dev(zf_tensor_2d(NULL, ZF_DTYPE_F32, 8, 16), &dk);
    ZT_CHECK(zf_matmul(&x, &w, &y, NULL) == ZF_ERR_DTYPE, "matmul y f16 for x f32: %s", zf_last_error());
    zf_tensor ids = on_dev(zf_tensor_1d(NULL, ZF_DTYPE_F32, 4), &dq), tab = on_dev(zf_tensor_2d(NULL, ZF_DTYPE_F32, 16, 16), &dk);
    zf_tensor eo = on_dev(zf_tensor_2d(NULL, ZF_DTYPE_F32, 4, 16), &dout);
    ZT_CHECK(zf_embedding(&tab, &ids, &eo, NULL) == ZF_ERR_DTYPE, "f32 ids: %s", zf_last_error());
    zf_tensor sx = on_dev(zf_tensor_2d(NULL, ZF_DTYPE_F32, 4, 16), &dq), so = on_dev(zf_tensor_2d(NULL, ZF_DTYPE_F32, 4, 15), &dout);
    ZT_CHECK(zf_softmax(&sx, &so, NULL) == ZF_ERR_SHAPE, "softmax shapes: %s", zf_last_error());
    zf_tensor cx = sx, co = sx;
    co.data = (float *)dq.p + 3; /* overlaps x */
    ZT_CHECK(zf_copy(&cx, &co, NULL) == ZF_ERR_ALIAS, "copy overlap: %s", zf_last_error());
    unsigned char poison[64 * 4];
    zf_memcpy(poison, ZF_DEVICE_CPU, dout.p, ZF_DEVICE_CUDA, sizeof poison, NULL);
    zf_stream_synchronize(NULL);
    int intact = 1;
    for (size_t i = 0; i < sizeof poison; i++) intact &= poison[i] == 0x7f;
    ZT_CHECK(intact && guards_ok(&dout), "a refused call wrote to its output");
    dbuf *all[] = {&dq, &dk, &dv, &dout};
    for (int i = 0; i < 4; i++) dfree(all[i]);
}

/* ---- CUDA graphs: record, replay, update in place --------------------------------- */

static void test_graph(void) {
    zf_stream *s = NULL;
    ZT_OK(zf_stream_create(&s));
    if (!s) return;
    enum { N = 1000 };
    static float a[N], b[N], c[N], want[N], got[N];
    zt_fill(ZF_DTYPE_F32, a, N, 4.0f);
    zt_fill(ZF_DTYPE_F32, b, N, 4.0f);
    zt_fill(ZF_DTYPE_F32, c, N, 4.0f);
    dbuf da = dbuf_of(a, sizeof a), db = dbuf_of(b, sizeof b), dc = dbuf_of(c, sizeof c), dy = dalloc(sizeof a);
    zf_stream_synchronize(NULL);
    zf_opts o = {.stream = s};
    zf_graph *g = NULL;
    /* the process's first f32 add: its variant's self-test runs inside the recording */
    for (int round = 0; round < 3; round++) { /* y = a + b; a + c (updated in place); a * c (another kernel) */
        zf_tensor x0 = on_dev(zf_tensor_1d(NULL, ZF_DTYPE_F32, N), &da);
        zf_tensor x1 = on_dev(zf_tensor_1d(NULL, ZF_DTYPE_F32, N), round ? &dc : &db);
        zf_tensor y = on_dev(zf_tensor_1d(NULL, ZF_DTYPE_F32, N), &dy);
        ZT_OK(zf_graph_begin(s));
        ZT_OK(round < 2 ? zf_add(&x0, &x1, &y, &o) : zf_mul(&x0, &x1, &y, &o));
        ZT_OK(zf_graph_end(s, &g));
        ZT_CHECK(g != NULL, "round %d: no graph", round);
        if (!g) break;
        ZT_OK(zf_graph_launch(g, s));
        ZT_OK(zf_memcpy(got, ZF_DEVICE_CPU, dy.p, ZF_DEVICE_CUDA, sizeof got, s));
        ZT_OK(zf_stream_synchronize(s));
        const float *u = round ? c : b;
        for (int i = 0; i < N; i++) want[i] = round < 2 ? a[i] + u[i] : a[i] * u[i];
        ZT_CHECK(memcmp(got, want, sizeof got) == 0, "round %d: the replayed graph's output differs", round);
    }
    /* a failed call inside a recording: the error, then cancel leaves the stream usable */
    ZT_OK(zf_graph_begin(s));
    zf_tensor x0 = on_dev(zf_tensor_1d(NULL, ZF_DTYPE_F32, N), &da), bad = on_dev(zf_tensor_1d(NULL, ZF_DTYPE_F32, N - 1), &db);
    ZT_CHECK(zf_add(&x0, &bad, &x0, &o) == ZF_ERR_SHAPE, "mismatched add inside a recording: %s", zf_last_error());
    ZT_OK(zf_graph_cancel(s));
    ZT_OK(zf_memcpy(got, ZF_DEVICE_CPU, da.p, ZF_DEVICE_CUDA, sizeof got, s));
    ZT_OK(zf_stream_synchronize(s));
    ZT_CHECK(memcmp(got, a, sizeof got) == 0, "the cancelled recording changed a");
    ZT_CHECK(zf_graph_begin(NULL) == ZF_ERR_INVALID_ARG, "recording the default stream: %s", zf_last_error());
    ZT_OK(zf_graph_destroy(g));
    dbuf *all[] = {&da, &db, &dc, &dy};
    for (int i = 0; i < 4; i++) dfree(all[i]);
    ZT_OK(zf_stream_destroy(s));
}

/* ---- whole models: CPU and CUDA logits bit for bit --------------------------------- */

/* max_ctx beyond what zf_attention_decode's shared memory holds makes a
 * CUDA model fall back to the separate ops (Qwen3's q/k norms included) at
 * its first one-token step, and then stop recording graphs (no_graph). */
static void compare_models(const char *path, zf_dtype act, int64_t max_ctx, int no_graph) {
    zf_model_file *f = NULL;
    if (zf_model_file_open(path, NULL, NULL, &f) != ZF_OK) {
        ZT_CHECK(0, "open %s: %s", path, zf_last_error());
        return;
    }
    zf_model_opts o = zf_model_opts_default();
    o.act_dtype = o.kv_dtype = act;
    o.max_ctx = max_ctx;
    o.max_batch = 5; /* a 13-token prompt runs in three steps */
    zf_model *cpu = NULL, *gpu = NULL;
    ZT_OK(zf_model_from_file(f, &o, &cpu));
    o.device = ZF_DEVICE_CUDA;
    ZT_OK(zf_model_from_file(f, &o, &gpu));
    if (!cpu || !gpu) goto done;
    int64_t V = zf_model_cfg(cpu)->vocab;
    float *a = malloc((size_t)(13 * V) * 4), *b = malloc((size_t)(13 * V) * 4);
    int32_t prompt[13];
    for (int i = 0; i < 13; i++) prompt[i] = (int32_t)(zt_rand() % (uint64_t)V);
    /* every prompt row's logits, then 8 greedy decode steps */
    ZT_OK(zf_model_forward(cpu, prompt, 13, 1, a));
    ZT_OK(zf_model_forward(gpu, prompt, 13, 1, b));
    int64_t at = first_diff_nan(ZF_DTYPE_F32, a, b, 13 * V);
    ZT_CHECK(at < 0, "%s (%s): prefill logits differ at row %lld, id %lld", path, zf_dtype_name(act),
             (long long)(at / V), (long long)(at % V));
    for (int step = 0; step < 8; step++) {
        int32_t tok = 0;
        for (int64_t i = 1; i < V; i++)
            if (a[i] > a[tok]) tok = (int32_t)i;
        ZT_OK(zf_model_forward(cpu, &tok, 1, 0, a));
        ZT_OK(zf_model_forward(gpu, &tok, 1, 0, b));
        at = first_diff_nan(ZF_DTYPE_F32, a, b, V);
        ZT_CHECK(at < 0, "%s (%s): decode step %d logits differ at id %lld: %.9g vs %.9g", path, zf_dtype_name(act),
                 step, (long long)at, at < 0 ? 0.0 : a[at], at < 0 ? 0.0 : b[at]);
    }
    ZT_CHECK(zf_model_pos(gpu) == 21, "CUDA model position %lld after 21 tokens", (long long)zf_model_pos(gpu));
    const char *graphs = getenv("ZF_CUDA_GRAPHS");
    ZT_CHECK(zf_model_decode_graphed(gpu) == (!no_graph && !(graphs && strcmp(graphs, "0") == 0)) &&
                 !zf_model_decode_graphed(cpu),
             "%s (max_ctx %lld): decode steps %s a recorded graph", path, (long long)max_ctx,
             zf_model_decode_graphed(gpu) ? "replayed" : "did not replay");
    /* back to position 0: the cache is written again from the start */
    zf_model_reset(cpu);
    zf_model_reset(gpu);
    ZT_OK(zf_model_forward(cpu, prompt, 1, 0, a));
    ZT_OK(zf_model_forward(gpu, prompt, 1, 0, b));
    at = first_diff_nan(ZF_DTYPE_F32, a, b, V);
    ZT_CHECK(at < 0, "%s (%s): after a reset, logits differ at id %lld", path, zf_dtype_name(act), (long long)at);
    int32_t bad = (int32_t)V;
    ZT_CHECK(zf_model_forward(gpu, &bad, 1, 0, b) == ZF_ERR_INVALID_ARG, "token id = vocab accepted");
    free(a);
    free(b);
done:
    zf_model_destroy(cpu);
    zf_model_destroy(gpu);
    zf_model_file_close(f);
}

static void test_models(void) {
    char dir[] = "/tmp/zf_test_cuda_model_XXXXXX";
    if (!mkdtemp(dir)) {
        ZT_CHECK(0, "mkdtemp failed");
        return;
    }
    const char *archs[] = {"llama", "llama", "qwen3_moe", "qwen3_moe"}, *fmts[] = {"gguf", "mlx", "gguf", "mlx"};
    const char *quants[] = {"q4_1", NULL, "q8_0", NULL};
    for (int i = 0; i < 4; i++) {
        char path[160];
        snprintf(path, sizeof path, "%s/%s.%s", dir, archs[i], fmts[i]);
        zf_synth_opts so = {.arch = archs[i], .preset = "tiny", .format = fmts[i], .quant = quants[i],
                            .seed = zt_rand(), .out = path};
        if (zf_synth_write(&so) != ZF_OK) {
            ZT_CHECK(0, "synth %s: %s", path, zf_last_error());
            continue;
        }
        compare_models(path, ZF_DTYPE_F32, 64, 0); /* one-token steps replay a recorded graph */
        setenv("ZF_CUDA_GRAPHS", "0", 1);         /* and launched kernel by kernel */
        compare_models(path, ZF_DTYPE_F32, 64, 0);
        unsetenv("ZF_CUDA_GRAPHS");
        compare_models(path, ZF_DTYPE_BF16, 64, 0);
        if (i % 2 == 0) /* 70000 positions: more than one block's shared memory (227 KiB on an H100) */
            compare_models(path, ZF_DTYPE_F32, 70000, 1);
    }
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    ZT_CHECK(system(cmd) == 0, "cleanup of %s", dir);
}

int main(void) {
    const int skip = zt_cuda_start("test_cuda_model", &g_quick);
    if (skip) return skip;
    test_embedding();
    test_rope();
    test_softmax();
    test_copy();
    test_attention();
    test_attention_long();
    test_attention_decode();
    test_matmul();
    test_errors();
    test_graph();
    test_models();
    return zt_finish();
}
