/* Gate capsules in words: the table `zf gate` prints and `zf capsule show`
 * repeats, and the row-by-row comparison of `zf capsule diff`. */
#include <math.h>
#include <string.h>

#include "capsule_report.h"
#include "cj.h"
#include "gate.h"

void zf_gate_print(const cJSON *cap, FILE *f) {
    const cJSON *bw = cJSON_GetObjectItemCaseSensitive(cap, "bandwidth");
    fprintf(f, "zf gate %s  backend %s  dtype %s  tier %s%s\n", zf_cj_str(cap, "op"), zf_cj_str(cap, "backend"),
            zf_cj_str(cap, "dtype"), zf_cj_str(cap, "tier"),
            cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(cap, "quick")) ? "  (quick sweep)" : "");
    fprintf(f, "fused  %s\nstock  %s\n", zf_cj_str(cap, "fused_variant"), zf_cj_str(cap, "stock_variant"));
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(cap, "machine");
    double load = zf_cj_num(m, "load_average"), cores = zf_cj_num(m, "cores");
    if (load == load) fprintf(f, "load   %.2f (1-minute load average when the run started)\n", load);
    if (load > 0.5 * cores)
        fprintf(f, "WARNING: other work was running (load %.1f on %.0f cores): timings and bandwidth are noisy\n", load,
                cores);
    fprintf(f, "memory bandwidth  %.1f GB/s (best; median %.1f) for %s\n", zf_cj_num(bw, "gbps"),
            zf_cj_num(bw, "median_gbps"), zf_cj_str(bw, "pattern"));
    fprintf(f, "                  %.1f GB/s for %s\n\n", zf_cj_num(bw, "read_gbps"), zf_cj_str(bw, "read_pattern"));
    fprintf(f, "  %6s %6s %-6s %9s %4s  %-26s %-26s %-19s %8s %6s %6s  %s\n", "rows", "cols", "kind", "MB/call", "sets",
            "fused us median (min-max)", "stock us median (min-max)", "speedup (min-max)", "GB/s", "of bw", "paired",
            "verdict");
    const cJSON *r;
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(cap, "rows")) {
        char fu[40], su[40], sp[40];
        snprintf(fu, sizeof fu, "%.2f (%.2f-%.2f)", zf_cj_num(r, "fused_median_us"), zf_cj_num(r, "fused_min_us"),
                 zf_cj_num(r, "fused_max_us"));
        snprintf(su, sizeof su, "%.2f (%.2f-%.2f)", zf_cj_num(r, "stock_median_us"), zf_cj_num(r, "stock_min_us"),
                 zf_cj_num(r, "stock_max_us"));
        snprintf(sp, sizeof sp, "%.2fx (%.2f-%.2f)", zf_cj_num(r, "speedup"), zf_cj_num(r, "speedup_min"),
                 zf_cj_num(r, "speedup_max"));
        char pf[16] = "     -"; /* capsules before the paired probes have none */
        double paired = zf_cj_num(r, "paired_bandwidth_fraction");
        if (paired == paired) snprintf(pf, sizeof pf, "%5.0f%%", 100.0 * paired);
        fprintf(f, "  %6.0f %6.0f %-6s %9.3f %4.0f  %-26s %-26s %-19s %8.1f %5.0f%% %6s  %s\n", zf_cj_num(r, "rows"),
                zf_cj_num(r, "cols"), zf_cj_str(r, "kind"), zf_cj_num(r, "bytes") / 1e6, zf_cj_num(r, "buffer_sets"),
                fu, su, sp, zf_cj_num(r, "fused_gbps"), 100.0 * zf_cj_num(r, "bandwidth_fraction"), pf,
                zf_cj_str(r, "verdict"));
    }
    fprintf(f, "\noverall: %s (%s)\n", zf_cj_str(cap, "verdict"), zf_cj_str(cap, "verdict_reason"));
}

static const cJSON *find_row(const cJSON *rows, double nrows, double cols) {
    const cJSON *r;
    cJSON_ArrayForEach(r, rows) if (zf_cj_num(r, "rows") == nrows && zf_cj_num(r, "cols") == cols) return r;
    return NULL;
}

void zf_gate_diff(const cJSON *a, const cJSON *b, FILE *f) {
    const char *keys[] = {"op", "backend", "dtype", "fused_variant", "stock_variant"};
    int n = 0;
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        zf_capsule_diff_str(f, keys[i], zf_cj_str(a, keys[i]), zf_cj_str(b, keys[i]), &n);
    const cJSON *ba = cJSON_GetObjectItemCaseSensitive(a, "bandwidth"), *bb = cJSON_GetObjectItemCaseSensitive(b, "bandwidth");
    fprintf(f, "bandwidth  %.1f -> %.1f GB/s\n\n", zf_cj_num(ba, "gbps"), zf_cj_num(bb, "gbps"));
    fprintf(f, "  %6s %6s %9s %9s %8s %7s %7s  %s\n", "rows", "cols", "speedup A", "speedup B", "change", "bw% A",
            "bw% B", "verdict");
    const cJSON *ra = cJSON_GetObjectItemCaseSensitive(a, "rows"), *rb = cJSON_GetObjectItemCaseSensitive(b, "rows");
    const cJSON *r;
    int only_a = 0, only_b = 0, changed = 0;
    cJSON_ArrayForEach(r, ra) {
        const cJSON *o = find_row(rb, zf_cj_num(r, "rows"), zf_cj_num(r, "cols"));
        if (!o) { only_a++; continue; }
        double sa = zf_cj_num(r, "speedup"), sb = zf_cj_num(o, "speedup");
        const char *va = zf_cj_str(r, "verdict"), *vb = zf_cj_str(o, "verdict");
        int vchange = strcmp(va, vb) != 0;
        changed += vchange;
        fprintf(f, "  %6.0f %6.0f %8.2fx %8.2fx %+7.1f%% %6.0f%% %6.0f%%  %s%s%s\n", zf_cj_num(r, "rows"),
                zf_cj_num(r, "cols"), sa, sb, 100.0 * (sb / sa - 1.0), 100.0 * zf_cj_num(r, "bandwidth_fraction"),
                100.0 * zf_cj_num(o, "bandwidth_fraction"), va, vchange ? " -> " : "", vchange ? vb : "");
    }
    cJSON_ArrayForEach(r, rb) only_b += find_row(ra, zf_cj_num(r, "rows"), zf_cj_num(r, "cols")) == NULL;
    if (only_a || only_b) fprintf(f, "  (%d shapes only in A, %d only in B)\n", only_a, only_b);
    fprintf(f, "\nverdict changes on %d shapes; overall %s -> %s\n", changed, zf_cj_str(a, "verdict"),
            zf_cj_str(b, "verdict"));
}
