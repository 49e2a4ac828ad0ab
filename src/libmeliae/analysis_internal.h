/*
 * analysis_internal.h - retention analyses on plain arrays: roots under a
 * virtual super-root, the dominator tree (Semi-NCA), retained sizes and
 * shortest paths from the roots.  The cores know nothing of mel_graph; the
 * glue in retention.c feeds them the graph's arrays and keeps the results.
 * Not installed, not part of the API.
 */
#ifndef MEL_ANALYSIS_INTERNAL_H
#define MEL_ANALYSIS_INTERNAL_H

#include "mel_internal.h"

#include <stddef.h>
#include <stdint.h>

/* A directed graph in compressed sparse row form, read-only.
 *   successors of v: dst[off[v] .. off[v+1]), or, when flags[v] & reloc_bit,
 *   dst[rstart[v] .. rstart[v] + rcount[v]).
 *   A node with flags[v] & dead_bits is outside the graph (a deleted
 *   record): its edges and the edges pointing at it are ignored.
 *   flags may be NULL (no dead nodes, no relocation).
 * Every successor must be < n. */
typedef struct mel__digraph {
    uint32_t n;
    const uint32_t *off;    /* n + 1 entries */
    const uint32_t *dst;
    const uint8_t *flags;
    uint8_t dead_bits;
    uint8_t reloc_bit;
    const uint32_t *rstart;
    const uint32_t *rcount;
} mel__digraph;

static inline uint32_t mel__dg_deg(const mel__digraph *g, uint32_t v)
{
    if (g->flags && (g->flags[v] & g->reloc_bit))
        return g->rcount[v];
    return g->off[v + 1] - g->off[v];
}

static inline const uint32_t *mel__dg_succ(const mel__digraph *g, uint32_t v)
{
    if (g->flags && (g->flags[v] & g->reloc_bit))
        return g->dst + g->rstart[v];
    return g->dst + g->off[v];
}

static inline int mel__dg_dead(const mel__digraph *g, uint32_t v)
{
    return g->flags != NULL && (g->flags[v] & g->dead_bits) != 0;
}

/* --- roots (roots.c) -------------------------------------------------- */

/* The first children of the super-root: the live nodes of markers[] (in that
 * order, duplicates and dead or out-of-range entries dropped), then every live
 * node that no other live node refers to (self references do not count), in
 * index order.  Nodes that remain
 * unreached from these are attached by the traversals themselves, lowest
 * index first.  *out (allocated with a, *nout entries) belongs to the caller.
 * Returns MEL_OK or MEL_ENOMEM. */
int mel__root_list(const mel__digraph *g, const uint32_t *markers, size_t nmarkers,
                   const mel_allocator *a, uint32_t **out, size_t *nout);

/* --- dominators (dominators.c) ---------------------------------------- */

/* A dominator tree over the super-root. */
typedef struct mel__domtree {
    uint32_t n;        /* nodes in the graph */
    uint32_t nlive;    /* nodes in order[] (every node not dead) */
    uint32_t *idom;    /* n entries: immediate dominator, MEL_NONE = super-root (and dead nodes) */
    uint32_t *order;   /* nlive entries: depth-first preorder from the super-root;
                          every node comes after its immediate dominator */
} mel__domtree;

/* Computes the dominator tree of g under a super-root whose children are
 * mel__root_list(g, markers) followed, lowest index first, by each live node
 * still unreached from the roots chosen so far.
 * preds (may be NULL): the complete predecessor lists of g in node space
 * (duplicates allowed); when NULL a transient reverse graph is built.
 * progress (may be NULL) is called now and then with phase "dominators".
 * Fills *t (free with mel__domtree_free).  Returns MEL_OK, MEL_ENOMEM,
 * MEL_ECANCELED or MEL_EINVAL (n too large). */
int mel__dominators(const mel__digraph *g, const mel__digraph *preds, const uint32_t *markers,
                    size_t nmarkers, mel_progress_fn progress, void *progress_ctx,
                    const mel_allocator *a, mel__domtree *t);
void mel__domtree_free(mel__domtree *t, const mel_allocator *a);

/* Retained sizes, in place: on entry ret[v] (t->n entries) is v's own
 * size (0 for dead nodes); on return it is that size plus the retained
 * sizes of the nodes v immediately dominates.  *total (may be NULL) gets
 * the super-root's retained size: the sum over all live nodes. */
void mel__retained_sizes(const mel__domtree *t, uint64_t *ret, uint64_t *total);

/* Children lists of the dominator tree, by counting sort of idom:
 * children of v: kid[koff[v] .. koff[v+1]), of the super-root:
 * kid[koff[n] .. koff[n+1]); each list in preorder.  koff has n+2 entries,
 * kid nlive entries; both allocated with a, owned by the caller. */
int mel__dom_children(const mel__domtree *t, const mel_allocator *a, uint32_t **koff,
                      uint32_t **kid);

/* --- shortest paths (paths.c) ----------------------------------------- */

/* Breadth-first search in three tiers: from the live markers[] (all at
 * distance 0) until nothing more is reached; then from the other children
 * of the super-root (mel__root_list) that are still unreached; then from
 * each still unreached live node, lowest index first.  A node gets its
 * shortest path from the first tier that reaches it.  parent[v] (n
 * entries, allocated with a) is the node before v on that path, MEL_NONE
 * for the starting nodes and for dead nodes.  Returns MEL_OK, MEL_ENOMEM or
 * MEL_EINVAL. */
int mel__bfs_parents(const mel__digraph *g, const uint32_t *markers, size_t nmarkers,
                     const mel_allocator *a, uint32_t **parent);

/* --- glue to mel_graph (retention.c) --------------------------------- */

struct mel_graph;

/* The graph's children as a digraph (deleted records dead). */
void mel__graph_digraph(const struct mel_graph *g, mel__digraph *dg);
/* The dominator tree and retained sizes computed on g (borrowed), or
 * MEL_EINVAL if mel_compute_dominators has not run since the last change. */
int mel__graph_domtree(const struct mel_graph *g, const mel__domtree **tree,
                       const uint64_t **retained);

#endif
