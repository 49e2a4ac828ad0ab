/*
 * parents.c - the reverse (referrer) CSR: for every node, the distinct live
 * records that list it as a child, in file order, at most max_parents of
 * them.  Built by a counting sort over the children CSR in O(nodes + edges)
 * with 8 bytes per node of transient memory.
 */
#include "graph_internal.h"

#include <string.h>

int mel_graph_compute_parents(mel_graph *g, int64_t max_parents)
{
    uint32_t nn, s, t, k, cnt, cap;
    uint32_t *count = NULL, *last = NULL, *poff = NULL, *pdst = NULL;
    uint64_t total = 0;
    int rc = MEL_ENOMEM;

    if (!g)
        return MEL_EINVAL;
    nn = mel__nodes(g);
    cap = max_parents < 0 ? UINT32_MAX : (max_parents > UINT32_MAX ? UINT32_MAX : (uint32_t)max_parents);
    count = mel__calloc(g->alloc, (size_t)nn + 1, sizeof *count);
    last = mel__malloc(g->alloc, ((size_t)nn + 1) * sizeof *last);
    if (!count || !last)
        goto done;
    memset(last, 0xff, ((size_t)nn + 1) * sizeof *last);
    if (cap) {
        for (s = 0; s < g->n; s++) {
            const uint32_t *c;
            if (!mel__live(g, s))
                continue;
            c = mel__children(g, s, &cnt);
            for (k = 0; k < cnt; k++) {
                t = c[k];
                if (last[t] == s || count[t] >= cap || (g->flags[t] & MEL_NODE_DELETED))
                    continue;
                last[t] = s;
                count[t]++;
            }
        }
    }
    poff = mel__malloc(g->alloc, ((size_t)nn + 1) * sizeof *poff);
    if (!poff)
        goto done;
    for (t = 0; t < nn; t++) {
        poff[t] = (uint32_t)total;
        total += count[t];
        count[t] = poff[t]; /* now the fill cursor */
    }
    poff[nn] = (uint32_t)total;
    pdst = mel__malloc(g->alloc, (size_t)(total ? total : 1) * sizeof *pdst);
    if (!pdst)
        goto done;
    if (total) {
        for (s = 0; s < g->n; s++) {
            const uint32_t *c;
            if (!mel__live(g, s))
                continue;
            c = mel__children(g, s, &cnt);
            for (k = 0; k < cnt; k++) {
                t = c[k];
                if (count[t] == poff[t + 1] || (g->flags[t] & MEL_NODE_DELETED))
                    continue;
                if (count[t] > poff[t] && pdst[count[t] - 1] == s)
                    continue; /* s already listed: parents ascend, so it is the last */
                pdst[count[t]++] = s;
            }
        }
    }
    mel__graph_drop_parents(g);
    g->poff = poff;
    g->pdst = pdst;
    g->has_parents = 1;
    g->max_parents = max_parents;
    poff = pdst = NULL;
    rc = MEL_OK;
done:
    mel__free(g->alloc, count, 0);
    mel__free(g->alloc, last, 0);
    mel__free(g->alloc, poff, 0);
    mel__free(g->alloc, pdst, 0);
    return rc;
}
