/*
 * domibench.c - times the dominator tree, retained sizes and path queries,
 * and measures the extra memory they need while running.
 *
 *   domibench --synthetic N [SEED] [--parents]
 *                                    a heap-like graph built in memory:
 *                                    ~5.9 refs per object, 60% near the
 *                                    referrer, 25% to 1000 hot objects,
 *                                    15% uniformly random; --parents builds
 *                                    the predecessor lists first (as a
 *                                    graph with computed parents has them)
 *                                    and hands them to the core
 *   domibench DUMP [--parents]       a dump file, through the loader;
 *                                    --parents computes complete parents
 *                                    (mel_graph_compute_parents(g, -1))
 *                                    before the measured pass
 *
 * Build: cc -O2 -DMEL_STATIC_BUILD -D_POSIX_C_SOURCE=200809L -Isrc/libmeliae \
 *          bench/domibench.c src/libmeliae/(all .c files) -lz -lzstd -lm -o build/domibench
 * Memory: VmRSS before the pass, VmHWM after it (the peak is reset through
 * /proc/self/clear_refs first), both from /proc/self/status.
 */
#include "analysis_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* CPU time of this thread: wall time is unreliable on a shared machine. */
static double cpu(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A field of /proc/self/status in bytes (0 if unavailable). */
static uint64_t status_kb(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    uint64_t v = 0;
    size_t n = strlen(key);

    if (!f)
        return 0;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, key, n) == 0 && line[n] == ':') {
            v = strtoull(line + n + 1, NULL, 10) * 1024;
            break;
        }
    fclose(f);
    return v;
}

static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int ok;
    if (!f)
        return 0;
    ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok;
}

static uint64_t rng = 0x2545F4914F6CDD1Dull;

static uint32_t rnd(uint32_t bound)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)((rng >> 11) % bound);
}

/* The predecessor lists of g (duplicates kept), by counting sort. */
static int reverse(const mel__digraph *g, mel__digraph *pg)
{
    uint32_t *poff = calloc((size_t)g->n + 1, sizeof *poff), *pdst, v;
    uint64_t e = g->off[g->n];

    pdst = malloc((e ? e : 1) * sizeof *pdst);
    if (!poff || !pdst)
        return 1;
    for (uint64_t k = 0; k < e; k++)
        poff[g->dst[k]]++;
    for (v = 0, e = 0; v <= g->n; v++) {
        uint32_t c = v < g->n ? poff[v] : 0;
        poff[v] = (uint32_t)e;
        e += c;
    }
    for (v = 0; v < g->n; v++)
        for (uint32_t k = g->off[v]; k < g->off[v + 1]; k++)
            pdst[poff[g->dst[k]]++] = v;
    for (v = g->n; v > 0; v--)
        poff[v] = poff[v - 1];
    poff[0] = 0;
    memset(pg, 0, sizeof *pg);
    pg->n = g->n;
    pg->off = poff;
    pg->dst = pdst;
    return 0;
}

static int synthetic(uint32_t n, int with_parents)
{
    uint32_t *off = malloc(((size_t)n + 1) * sizeof *off), *dst, *parent = NULL;
    uint64_t *ret = malloc((size_t)n * sizeof *ret), e = 0, cap = (uint64_t)n * 7, total;
    mel__digraph g, pg;
    mel__domtree t;
    uint64_t rss0, peak, rss1;
    double t0, t1, t2, t3, c0, c1;
    int rc;

    dst = malloc(cap * sizeof *dst);
    if (!off || !ret || !dst)
        return 1;
    for (uint32_t v = 0; v < n; v++) {
        uint32_t d = rnd(12) + (rnd(10) < 4);
        off[v] = (uint32_t)e;
        if (e + d > cap)
            d = 0;
        for (uint32_t k = 0; k < d; k++) {
            uint32_t r = rnd(100), c;
            if (r < 60) {
                int64_t x = (int64_t)v + (int64_t)rnd(2001) - 1000;
                c = (uint32_t)(x < 0 ? -x : x >= n ? 2 * (int64_t)n - x - 1 : x);
            } else if (r < 85) {
                c = rnd(n < 1000 ? n : 1000) * (n / 1000 ? n / 1000 : 1);
            } else {
                c = rnd(n);
            }
            dst[e++] = c < n ? c : n - 1;
        }
    }
    off[n] = (uint32_t)e;
    memset(&g, 0, sizeof g);
    g.n = n;
    g.off = off;
    g.dst = dst;
    for (uint32_t v = 0; v < n; v++)
        ret[v] = 16 + rnd(480);
    printf("synthetic graph: %u objects, %llu refs (%.2f per object)\n", n,
           (unsigned long long)e, (double)e / n);
    if (with_parents) {
        if (reverse(&g, &pg))
            return 1;
        printf("predecessor lists built before the pass (%.1f bytes/object, not counted)\n",
               (double)(((uint64_t)n + 1) * 4 + e * 4) / n);
    }

    rss0 = status_kb("VmRSS");
    if (!reset_peak())
        printf("warning: cannot reset the peak RSS\n");
    t0 = now();
    c0 = cpu();
    rc = mel__dominators(&g, with_parents ? &pg : NULL, NULL, 0, NULL, NULL, NULL, &t);
    t1 = now();
    if (rc != MEL_OK) {
        printf("dominators failed: %s\n", mel_strerror(rc));
        return 1;
    }
    mel__retained_sizes(&t, ret, &total);
    t2 = now();
    c1 = cpu();
    peak = status_kb("VmHWM");
    rss1 = status_kb("VmRSS");
    printf("dominators (Semi-NCA): %.2f s\nretained sizes:        %.2f s\n", t1 - t0, t2 - t1);
    printf("total:                 %.2f s wall, %.2f s CPU\n", t2 - t0, c1 - c0);
    printf("peak extra memory:     %.1f bytes/object (%.0f MB)\n",
           (double)(peak - rss0) / n, (double)(peak - rss0) / 1e6);
    printf("kept after the pass:   %.1f bytes/object (idom, order, retained)\n",
           (double)(rss1 - rss0) / n);
    mel__domtree_free(&t, NULL);

    rss0 = status_kb("VmRSS");
    reset_peak();
    t2 = now();
    rc = mel__bfs_parents(&g, NULL, 0, NULL, &parent);
    t3 = now();
    if (rc != MEL_OK)
        return 1;
    printf("BFS from the roots:    %.2f s, peak extra %.1f bytes/object\n", t3 - t2,
           (double)(status_kb("VmHWM") - rss0) / n);
    {
        uint64_t steps = 0;
        t2 = now();
        for (int q = 0; q < 1000; q++) {
            uint32_t v = rnd(n);
            while (v != MEL_NONE) {
                steps++;
                v = parent[v];
            }
        }
        t3 = now();
        printf("1000 path walks:       %.3f ms each, %.1f nodes on average\n",
               (t3 - t2) * 1e3 / 1000, (double)steps / 1000);
    }
    free(parent);
    free(off);
    free(dst);
    free(ret);
    if (with_parents) {
        free((void *)pg.off);
        free((void *)pg.dst);
    }
    return 0;
}

static int dump(const char *path, int with_parents)
{
    mel_graph *g = NULL;
    mel_load_report rep;
    mel_error err;
    uint64_t rss0, peak, rss1;
    double t0, t1, t2, c0;
    uint32_t n;
    int rc;

    memset(&err, 0, sizeof err);
    t0 = now();
    rc = mel_load_path(path, NULL, &g, &rep, &err);
    t1 = now();
    if (rc != MEL_OK) {
        printf("%s: line %llu, column %llu: %s %s\n", path, (unsigned long long)err.line,
               (unsigned long long)err.column, mel_strerror(rc), err.detail);
        return 1;
    }
    n = mel_graph_count(g) + mel_graph_missing(g);
    printf("%s: %u objects (+%u missing), loaded in %.2f s\n", path, mel_graph_count(g),
           mel_graph_missing(g), t1 - t0);
    if (with_parents) {
        t0 = now();
        rc = mel_graph_compute_parents(g, -1);
        if (rc != MEL_OK) {
            printf("parents failed: %s\n", mel_strerror(rc));
            return 1;
        }
        printf("complete parents computed in %.2f s (held before the pass, not counted)\n",
               now() - t0);
    }
    rss0 = status_kb("VmRSS");
    if (!reset_peak())
        printf("warning: cannot reset the peak RSS\n");
    t0 = now();
    c0 = cpu();
    rc = mel_compute_dominators(g, NULL, NULL);
    t1 = now();
    c0 = cpu() - c0;
    if (rc != MEL_OK) {
        printf("dominators failed: %s\n", mel_strerror(rc));
        return 1;
    }
    peak = status_kb("VmHWM");
    rss1 = status_kb("VmRSS");
    printf("dominators + retained sizes: %.2f s wall, %.2f s CPU\n", t1 - t0, c0);
    printf("peak extra memory:     %.1f bytes/object\n", (double)(peak - rss0) / n);
    printf("kept after the pass:   %.1f bytes/object\n", (double)(rss1 - rss0) / n);
    {
        uint32_t *p = NULL, target = rnd(mel_graph_count(g));
        size_t len = 0;
        char *text = NULL;
        uint64_t steps = 0;
        t0 = now();
        rc = mel_path_to(g, target, &p, &len);
        t1 = now();
        mel_free(p);
        printf("first path query (BFS): %.2f s\n", t1 - t0);
        for (int q = 0; q < 1000 && rc == MEL_OK; q++) {
            target = rnd(mel_graph_count(g));
            rc = mel_path_to(g, target, &p, &len);
            if (rc == MEL_ENOTFOUND) { /* a deleted record */
                rc = MEL_OK;
                continue;
            }
            if (rc == MEL_OK)
                rc = mel_path_format(g, p, len, &text);
            steps += len;
            mel_free(p);
            mel_free(text);
        }
        t2 = now();
        printf("1000 path queries with text: %.3f ms each, %.1f nodes on average\n",
               (t2 - t1) * 1e3 / 1000, (double)steps / 1000);
    }
    mel_graph_free(g);
    return rc == MEL_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    int with_parents = argc >= 2 && strcmp(argv[argc - 1], "--parents") == 0;

    if (with_parents)
        argc--;
    if (argc >= 3 && strcmp(argv[1], "--synthetic") == 0) {
        if (argc >= 4)
            rng = strtoull(argv[3], NULL, 10) | 1;
        return synthetic((uint32_t)strtoul(argv[2], NULL, 10), with_parents);
    }
    if (argc == 2)
        return dump(argv[1], with_parents);
    fprintf(stderr, "usage: domibench --synthetic N [SEED] [--parents] | "
            "domibench DUMP [--parents]\n");
    return 2;
}
