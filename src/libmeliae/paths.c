/*
 * paths.c - shortest paths from the roots: one breadth-first search records
 * every node's parent on a shortest path; a query then walks parents back to
 * a root.  The search runs in three tiers: the header's root markers first,
 * then the objects no other object refers to, then unrooted cycles (lowest
 * index first).  A path therefore starts at the scanner's roots whenever
 * they reach the object, however close an unreferenced object may be.
 */
#include "analysis_internal.h"

#define UNSEEN (MEL_NONE - 1)

/* Runs the BFS queue from position head until it is empty. */
static uint32_t drain(const mel__digraph *g, uint32_t *parent, uint32_t *queue, uint32_t head,
                      uint32_t tail)
{
    while (head < tail) {
        uint32_t v = queue[head++], d = mel__dg_deg(g, v), j;
        const uint32_t *s = mel__dg_succ(g, v);
        for (j = 0; j < d; j++) {
            uint32_t c = s[j];
            if (parent[c] != UNSEEN || mel__dg_dead(g, c))
                continue;
            parent[c] = v;
            queue[tail++] = c;
        }
    }
    return tail;
}

/* Makes v a child of the super-root unless it is dead or already seen. */
static uint32_t seed(const mel__digraph *g, uint32_t *parent, uint32_t *queue, uint32_t tail,
                     uint32_t v)
{
    if (v >= g->n || parent[v] != UNSEEN || mel__dg_dead(g, v))
        return tail;
    parent[v] = MEL_NONE;
    queue[tail++] = v;
    return tail;
}

int mel__bfs_parents(const mel__digraph *g, const uint32_t *markers, size_t nmarkers,
                     const mel_allocator *a, uint32_t **out)
{
    uint32_t *roots = NULL, *parent = NULL, *queue = NULL;
    size_t nroots = 0;
    uint32_t v, head, tail = 0;
    int rc = MEL_ENOMEM;

    *out = NULL;
    if (g->n >= UNSEEN)
        return MEL_EINVAL;
    if ((rc = mel__root_list(g, markers, nmarkers, a, &roots, &nroots)) != MEL_OK)
        goto done;
    rc = MEL_ENOMEM;
    parent = mel__calloc(a, g->n ? g->n : 1, sizeof *parent);
    queue = mel__calloc(a, g->n ? g->n : 1, sizeof *queue);
    if (!parent || !queue)
        goto done;
    for (v = 0; v < g->n; v++)
        parent[v] = UNSEEN;
    /* The scanner's roots first: everything they reach gets its path from
     * them, however close an unreferenced object may be. */
    for (size_t k = 0; k < nmarkers; k++)
        tail = seed(g, parent, queue, tail, markers[k]);
    tail = drain(g, parent, queue, 0, tail);
    /* Then the objects nobody refers to, for what the markers do not reach. */
    head = tail;
    for (size_t k = 0; k < nroots; k++)
        tail = seed(g, parent, queue, tail, roots[k]);
    tail = drain(g, parent, queue, head, tail);
    /* Then unrooted cycles, lowest index first. */
    for (v = 0; v < g->n; v++) {
        if (parent[v] != UNSEEN || mel__dg_dead(g, v))
            continue;
        head = tail;
        tail = seed(g, parent, queue, tail, v);
        tail = drain(g, parent, queue, head, tail);
    }
    for (v = 0; v < g->n; v++)
        if (parent[v] == UNSEEN)
            parent[v] = MEL_NONE;
    *out = parent;
    parent = NULL;
    rc = MEL_OK;
done:
    mel__free(a, roots, (nroots ? nroots : 1) * sizeof *roots);
    mel__free(a, parent, (g->n ? g->n : 1) * sizeof *parent);
    mel__free(a, queue, (g->n ? g->n : 1) * sizeof *queue);
    return rc;
}
