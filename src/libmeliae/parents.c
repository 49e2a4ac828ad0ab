/*
 * parents.c - the reverse (referrer) CSR: for every node, the distinct live
 * records that list it as a child, in file order, at most max_parents of
 * them.  Built by a counting sort over the children CSR in O(nodes + edges)
 * with 8 bytes per node of transient memory; the random accesses of both
 * passes are prefetched 16 edges ahead.
 */
#include "graph_internal.h"

#include <string.h>

/* Per-node state while counting: the last parent seen and the count. */
typedef struct pstate {
    uint32_t last;
    uint32_t count;
} pstate;

int mel__parents_build(const struct mel_graph *g, int64_t max_parents, uint32_t extra,
                       uint32_t **poff_out, uint32_t **pdst_out)
{
    uint32_t nn, s, t, k, cnt, cap;
    pstate *st = NULL;
    uint32_t *poff = NULL, *pdst = NULL;
    uint64_t total = 0;
    int rc = MEL_ENOMEM;

    nn = mel__nodes(g);
    cap = max_parents < 0 ? UINT32_MAX
                          : (max_parents > (int64_t)UINT32_MAX ? UINT32_MAX : (uint32_t)max_parents);
    st = mel__malloc(g->alloc, ((size_t)nn + 1) * sizeof *st);
    if (!st)
        goto done;
    for (t = 0; t <= nn; t++) {
        st[t].last = MEL_NONE;
        st[t].count = 0;
    }
    /* Pass 1: count distinct parents (sources ascend, so a repeat of the
     * same parent is always the last one seen), up to the cap. */
    if (cap) {
        for (s = 0; s < g->n; s++) {
            const uint32_t *c;
            if (!mel__live(g, s))
                continue;
            c = mel__children(g, s, &cnt);
            if (cnt > 16)
                for (k = 0; k < 16; k++)
                    MEL_PREFETCH(&st[c[k]]);
            for (k = 0; k < cnt; k++) {
                pstate *p;
                if (k + 16 < cnt)
                    MEL_PREFETCH(&st[c[k + 16]]);
                else if (!(g->flags[s] & MEL__F_RELOC) && g->coff[s] + k + 16 < g->ncdst)
                    MEL_PREFETCH(&st[g->cdst[g->coff[s] + k + 16]]);
                t = c[k];
                p = &st[t];
                if (p->last == s || p->count >= cap || (g->ndeleted && (g->flags[t] & MEL_NODE_DELETED)))
                    continue;
                p->last = s;
                p->count++;
            }
        }
    }
    poff = mel__malloc(g->alloc, ((size_t)nn + 1 + extra) * sizeof *poff);
    if (!poff)
        goto done;
    for (t = 0; t < nn; t++) {
        poff[t] = (uint32_t)total;
        total += st[t].count;
        st[t].count = poff[t]; /* now the fill cursor */
        st[t].last = poff[t] + (uint32_t)(total - poff[t]); /* and the end */
    }
    poff[nn] = (uint32_t)total;
    pdst = mel__malloc(g->alloc, (size_t)(total ? total : 1) * sizeof *pdst);
    if (!pdst)
        goto done;
    /* Pass 2: fill, in source order, so every list ascends. */
    if (total) {
        for (s = 0; s < g->n; s++) {
            const uint32_t *c;
            if (!mel__live(g, s))
                continue;
            c = mel__children(g, s, &cnt);
            for (k = 0; k < cnt; k++) {
                pstate *p;
                if (k + 16 < cnt)
                    MEL_PREFETCH(&st[c[k + 16]]);
                else if (!(g->flags[s] & MEL__F_RELOC) && g->coff[s] + k + 16 < g->ncdst)
                    MEL_PREFETCH(&st[g->cdst[g->coff[s] + k + 16]]);
                t = c[k];
                p = &st[t];
                if (p->count == p->last || (g->ndeleted && (g->flags[t] & MEL_NODE_DELETED)))
                    continue;
                if (p->count > poff[t] && pdst[p->count - 1] == s)
                    continue; /* s already listed: parents ascend, so it is the last */
                pdst[p->count++] = s;
            }
        }
    }
    *poff_out = poff;
    *pdst_out = pdst;
    poff = pdst = NULL;
    rc = MEL_OK;
done:
    mel__free(g->alloc, st, 0);
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
