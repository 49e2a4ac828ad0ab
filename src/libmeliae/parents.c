/*
 * parents.c - the reverse (referrer) CSR: for every node, the distinct live
 * records that list it as a child, in file order, at most max_parents of
 * them.
 *
 * A counting sort over the children CSR in O(nodes + edges), split by
 * source: the records are cut into two halves and each half is a "side"
 * with its own count and cursor per target, so the two sides never write
 * the same word and run on two threads when the graph is large.
 *   1. count: each side counts its edges per target (repeats included);
 *   2. lay out: target t gets room for min(count0, cap) + min(count1, cap)
 *      parents; side 0 fills its part upwards from the start, side 1
 *      downwards from the end, so each side knows how many it has kept
 *      from one cursor and the list start or end;
 *   3. fill: each side walks its sources in order and appends a source
 *      unless it is the one it appended last for that target (sources
 *      ascend, so a repeat is always the last one) or the side has kept
 *      cap parents already;
 *   4. compact (one thread): side 0's parents, then side 1's in ascending
 *      order up to cap in all, are moved down to close the gaps left by
 *      repeats and caps.
 * Transient memory: two u32 per node.  The random accesses of the count
 * and fill passes are prefetched PF_FAR edges ahead.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "graph_internal.h"

#include <pthread.h>
#include <string.h>

/* Prefetch distances in edges: the per-target state, and the list slot it
 * names (read from the state fetched earlier). */
#define PF_FAR 120
#define PF_NEAR 60

/* Graphs with fewer edges are done on the calling thread alone. */
#define THREAD_MIN_EDGES ((uint64_t)1 << 18)

typedef struct side {
    const struct mel_graph *g;
    uint32_t s0, s1;   /* sources [s0, s1) */
    uint32_t *cur;     /* per target: count, then cursor */
    const uint32_t *base; /* per target list start (nn + 1 entries) */
    uint32_t *pdst;
    uint32_t cap;
    int up;            /* 1: side 0 (fills upwards), 0: side 1 (downwards) */
    int phase;         /* 1 count, 3 fill */
} side;

static void side_count(side *d)
{
    const struct mel_graph *g = d->g;
    uint32_t s, k, cnt, *cur = d->cur;
    int has_del = g->ndeleted != 0;

    for (s = d->s0; s < d->s1; s++) {
        const uint32_t *c;
        if (!mel__live(g, s))
            continue;
        c = mel__children(g, s, &cnt);
        for (k = 0; k < cnt; k++) {
            uint32_t t = c[k];
            if (k + PF_FAR < cnt)
                MEL_PREFETCH(&cur[c[k + PF_FAR]]);
            else if (!(g->flags[s] & MEL__F_RELOC) && g->coff[s] + k + PF_FAR < g->ncdst)
                MEL_PREFETCH(&cur[g->cdst[g->coff[s] + k + PF_FAR]]);
            if (has_del && (g->flags[t] & MEL_NODE_DELETED))
                continue;
            cur[t]++;
        }
    }
}

static void side_fill(side *d)
{
    const struct mel_graph *g = d->g;
    uint32_t s, k, cnt, *cur = d->cur, *pdst = d->pdst, cap = d->cap;
    const uint32_t *base = d->base;
    int has_del = g->ndeleted != 0;

    for (s = d->s0; s < d->s1; s++) {
        const uint32_t *c;
        if (!mel__live(g, s))
            continue;
        c = mel__children(g, s, &cnt);
        for (k = 0; k < cnt; k++) {
            uint32_t t = c[k], p;
            /* two stages: the cursor (and list bound) PF_FAR edges ahead,
             * the list slot it names PF_NEAR edges ahead */
            if (k + PF_FAR < cnt) {
                MEL_PREFETCH(&cur[c[k + PF_FAR]]);
                MEL_PREFETCH(&base[c[k + PF_FAR] + !d->up]);
            } else if (!(g->flags[s] & MEL__F_RELOC) && g->coff[s] + k + PF_FAR < g->ncdst) {
                uint32_t tf = g->cdst[g->coff[s] + k + PF_FAR];
                MEL_PREFETCH(&cur[tf]);
                MEL_PREFETCH(&base[tf + !d->up]);
            }
            if (k + PF_NEAR < cnt)
                MEL_PREFETCH(&pdst[cur[c[k + PF_NEAR]]]);
            else if (!(g->flags[s] & MEL__F_RELOC) && g->coff[s] + k + PF_NEAR < g->ncdst)
                MEL_PREFETCH(&pdst[cur[g->cdst[g->coff[s] + k + PF_NEAR]]]);
            if (has_del && (g->flags[t] & MEL_NODE_DELETED))
                continue;
            p = cur[t];
            if (d->up) {
                if (p > base[t] && (pdst[p - 1] == s || p - base[t] >= cap))
                    continue;
                pdst[p] = s;
                cur[t] = p + 1;
            } else {
                if (p < base[t + 1] && (pdst[p] == s || base[t + 1] - p >= cap))
                    continue;
                pdst[p - 1] = s;
                cur[t] = p - 1;
            }
        }
    }
}

static void side_run(side *d)
{
    if (d->phase == 1)
        side_count(d);
    else
        side_fill(d);
}

static void *side_thread(void *arg)
{
    side_run(arg);
    return NULL;
}

/* Runs both sides, on two threads when worth it (else one after the other). */
static void run_sides(side *d, int threads)
{
    pthread_t th;

    if (threads && pthread_create(&th, NULL, side_thread, &d[1]) == 0) {
        side_run(&d[0]);
        pthread_join(th, NULL);
        return;
    }
    side_run(&d[0]);
    side_run(&d[1]);
}

int mel__parents_build(const struct mel_graph *g, int64_t max_parents, uint32_t extra,
                       uint32_t **poff_out, uint32_t **pdst_out)
{
    uint32_t nn, t, cap, *c0 = NULL, *c1 = NULL, *poff = NULL, *pdst = NULL, *np;
    uint64_t total = 0, w;
    side d[2];
    int rc = MEL_ENOMEM, threads;

    nn = mel__nodes(g);
    cap = max_parents < 0 ? UINT32_MAX
                          : (max_parents > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)max_parents);
    poff = mel__malloc(g->alloc, ((size_t)nn + 1 + extra) * sizeof *poff);
    if (!poff)
        goto done;
    if (!cap || !g->n) {
        memset(poff, 0, ((size_t)nn + 1) * sizeof *poff);
        pdst = mel__malloc(g->alloc, sizeof *pdst);
        if (!pdst)
            goto done;
        goto out;
    }
    c0 = mel__calloc(g->alloc, (size_t)nn + 1, sizeof *c0);
    c1 = mel__calloc(g->alloc, (size_t)nn + 1, sizeof *c1);
    if (!c0 || !c1)
        goto done;
    threads = g->ncdst >= THREAD_MIN_EDGES;
    memset(d, 0, sizeof d);
    d[0].g = d[1].g = g;
    d[0].s0 = 0;
    d[0].s1 = d[1].s0 = g->n / 2;
    d[1].s1 = g->n;
    d[0].cur = c0;
    d[1].cur = c1;
    d[0].base = d[1].base = poff;
    d[0].cap = d[1].cap = cap;
    d[0].up = 1;
    d[0].phase = d[1].phase = 1;
    run_sides(d, threads);
    for (t = 0; t < nn; t++) {
        uint32_t r0 = c0[t] < cap ? c0[t] : cap, r1 = c1[t] < cap ? c1[t] : cap;
        poff[t] = (uint32_t)total;
        c0[t] = (uint32_t)total;               /* side 0 fills upwards from here */
        total += (uint64_t)r0 + r1;
        c1[t] = (uint32_t)total;               /* side 1 fills downwards from here */
    }
    poff[nn] = (uint32_t)total;
    if (total > UINT32_MAX)
        goto done;
    pdst = mel__malloc(g->alloc, (size_t)(total ? total : 1) * sizeof *pdst);
    if (!pdst)
        goto done;
    d[0].pdst = d[1].pdst = pdst;
    d[0].phase = d[1].phase = 3;
    if (total)
        run_sides(d, threads);
    /* compact: side 0's then side 1's (reversed into ascending order) */
    w = 0;
    for (t = 0; t < nn; t++) {
        uint32_t b = poff[t], e = poff[t + 1], f0 = c0[t] - b, f1 = e - c1[t];
        poff[t] = (uint32_t)w;
        if (f0 && w != b)
            memmove(pdst + w, pdst + b, (size_t)f0 * sizeof *pdst);
        w += f0;
        if (f1) {
            mel__reverse_u32(pdst + c1[t], f1);
            if (f1 > cap - f0)
                f1 = cap - f0;
            if (w != c1[t])
                memmove(pdst + w, pdst + c1[t], (size_t)f1 * sizeof *pdst);
            w += f1;
        }
    }
    poff[nn] = (uint32_t)w;
    if (w < total && !g->alloc) {
        np = mel__realloc(g->alloc, pdst, (size_t)total * sizeof *pdst,
                          (size_t)(w ? w : 1) * sizeof *pdst);
        if (np)
            pdst = np;
    }
out:
    *poff_out = poff;
    *pdst_out = pdst;
    poff = pdst = NULL;
    rc = MEL_OK;
done:
    mel__free(g->alloc, c0, 0);
    mel__free(g->alloc, c1, 0);
    mel__free(g->alloc, poff, 0);
    mel__free(g->alloc, pdst, 0);
    return rc;
}

int mel_graph_compute_parents(mel_graph *g, int64_t max_parents)
{
    uint32_t *poff = NULL, *pdst = NULL;
    int rc;

    if (!g)
        return MEL_EINVAL;
    rc = mel__parents_build(g, max_parents, 0, &poff, &pdst);
    if (rc)
        return rc;
    mel__graph_drop_parents(g);
    g->poff = poff;
    g->pdst = pdst;
    g->has_parents = 1;
    g->max_parents = max_parents;
    return MEL_OK;
}
