/*
 * paths.c - shortest paths from the super-root: one breadth-first search
 * records every node's parent on a shortest path; a query then walks
 * parents back to a root.
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

int mel__bfs_parents(const mel__digraph *g, const uint32_t *markers, size_t nmarkers,
                     const mel_allocator *a, uint32_t **out)
{
    uint32_t *roots = NULL, *parent = NULL, *queue = NULL;
    size_t nroots = 0;
    uint32_t v, tail = 0;
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
    /* every root sits at distance one from the super-root */
    for (size_t k = 0; k < nroots; k++) {
        parent[roots[k]] = MEL_NONE;
        queue[tail++] = roots[k];
    }
    tail = drain(g, parent, queue, 0, tail);
    for (v = 0; v < g->n; v++) {
        if (parent[v] != UNSEEN || mel__dg_dead(g, v))
            continue;
        parent[v] = MEL_NONE;
        queue[tail] = v;
        tail = drain(g, parent, queue, tail, tail + 1);
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
