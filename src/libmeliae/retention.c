/*
 * retention.c - the retention analyses of a mel_graph: dominator tree,
 * retained sizes (per object and per type) and shortest paths from the
 * roots.  Results hang on g->analysis and are dropped by the graph before
 * any structural change.
 */
#include "analysis_internal.h"
#include "graph_internal.h"

#include <stdlib.h>
#include <string.h>

/* Results kept on g->analysis. */
typedef struct retention {
    uint32_t nodes;        /* mel__nodes(g) when computed */
    int has_dom;
    mel__domtree tree;     /* idom and preorder */
    uint64_t *retained;    /* [nodes] retained sizes, when has_dom */
    uint64_t total;        /* the super-root's retained size */
    uint32_t *bfs_parent;  /* [nodes] shortest-path parents, or NULL */
} retention;

static void retention_free(struct mel_graph *g)
{
    retention *r = g->analysis;

    if (!r)
        return;
    mel__domtree_free(&r->tree, g->alloc);
    mel__free(g->alloc, r->retained, ((size_t)r->nodes ? r->nodes : 1) * sizeof *r->retained);
    mel__free(g->alloc, r->bfs_parent,
              ((size_t)r->nodes ? r->nodes : 1) * sizeof *r->bfs_parent);
    mel__free(g->alloc, r, sizeof *r);
    g->analysis = NULL;
    g->analysis_free = NULL;
}

/* The analysis record of g, created empty if absent (or if the node set
 * changed since).  NULL on ENOMEM. */
static retention *get_retention(struct mel_graph *g)
{
    retention *r = g->analysis;

    if (r && g->analysis_free == retention_free && r->nodes == mel__nodes(g))
        return r;
    mel__graph_invalidate(g);
    r = mel__calloc(g->alloc, 1, sizeof *r);
    if (!r)
        return NULL;
    r->nodes = mel__nodes(g);
    g->analysis = r;
    g->analysis_free = retention_free;
    return r;
}

static const retention *find_retention(const struct mel_graph *g)
{
    const retention *r = g->analysis;

    if (!r || g->analysis_free != retention_free || r->nodes != mel__nodes(g))
        return NULL;
    return r;
}

void mel__graph_digraph(const struct mel_graph *g, mel__digraph *dg)
{
    memset(dg, 0, sizeof *dg);
    dg->n = mel__nodes(g);
    dg->off = g->coff;
    dg->dst = g->cdst;
    dg->flags = g->flags;
    dg->dead_bits = MEL_NODE_DELETED;
    dg->reloc_bit = MEL__F_RELOC;
    dg->rstart = g->rstart;
    dg->rcount = g->rcount;
}

/* Nodes named by the header's root markers (some may be MEL_NONE). */
static int marker_nodes(const struct mel_graph *g, uint32_t **out, size_t *n)
{
    uint32_t *m = mel__calloc(g->alloc, g->nroots ? g->nroots : 1, sizeof *m);

    *out = NULL;
    *n = 0;
    if (!m)
        return MEL_ENOMEM;
    for (size_t k = 0; k < g->nroots; k++)
        m[k] = g->roots[k].node;
    *out = m;
    *n = g->nroots;
    return MEL_OK;
}

/* Sets *ok when g's parent lists are exactly, for every live node, the
 * distinct live records that refer to it, in ascending order: what
 * mel_graph_compute_parents builds when no cap cuts a list short and no
 * set_children or delete came after it.  The dominator core can then read
 * them instead of building its own reverse edges.  One pass over the edges
 * with one cursor per node; stops at the first difference.
 * Returns MEL_OK or MEL_ENOMEM. */
static int parents_usable(const struct mel_graph *g, int *ok)
{
    uint32_t nn = mel__nodes(g), s, t, k, cnt, *cur = NULL;
    int good = 1;

    *ok = 0;
    if (!g->has_parents || g->max_parents == 0)
        return MEL_OK;
    cur = mel__malloc(g->alloc, ((size_t)nn ? nn : 1) * sizeof *cur);
    if (!cur)
        return MEL_ENOMEM;
    memcpy(cur, g->poff, (size_t)nn * sizeof *cur);
    for (s = 0; s < g->n && good; s++) {
        const uint32_t *ch;
        if (!mel__live(g, s))
            continue;
        ch = mel__children(g, s, &cnt);
        for (k = 0; k < cnt; k++) {
            t = ch[k];
            if (g->flags[t] & MEL_NODE_DELETED)
                continue;
            if (cur[t] > g->poff[t] && g->pdst[cur[t] - 1] == s)
                continue; /* s listed t before */
            if (cur[t] == g->poff[t + 1] || g->pdst[cur[t]] != s) {
                good = 0;
                break;
            }
            cur[t]++;
        }
    }
    for (t = 0; t < nn && good; t++)
        if (!(g->flags[t] & MEL_NODE_DELETED) && cur[t] != g->poff[t + 1])
            good = 0;
    mel__free(g->alloc, cur, ((size_t)nn ? nn : 1) * sizeof *cur);
    *ok = good;
    return MEL_OK;
}

int mel_compute_dominators(mel_graph *g, mel_progress_fn progress, void *progress_ctx)
{
    retention *r;
    mel__digraph dg, pg;
    mel__domtree tree;
    uint32_t *markers = NULL;
    uint64_t *ret = NULL;
    size_t nmarkers = 0;
    uint32_t nn, v;
    int rc, use_parents = 0;

    if (!g)
        return MEL_EINVAL;
    memset(&tree, 0, sizeof tree);
    nn = mel__nodes(g);
    if ((rc = marker_nodes(g, &markers, &nmarkers)) != MEL_OK)
        goto done;
    mel__graph_digraph(g, &dg);
    /* Complete, up-to-date parents save the core its copy of the reverse
     * edges (4 B per node plus 4 B per back or cross edge); capped or stale
     * ones cannot stand in for them. */
    if ((rc = parents_usable(g, &use_parents)) != MEL_OK)
        goto done;
    if (use_parents) {
        memset(&pg, 0, sizeof pg);
        pg.n = nn;
        pg.off = g->poff;
        pg.dst = g->pdst;
        pg.flags = g->flags;
        pg.dead_bits = MEL_NODE_DELETED;
    }
    rc = mel__dominators(&dg, use_parents ? &pg : NULL, markers, nmarkers, progress,
                         progress_ctx, g->alloc, &tree);
    if (rc != MEL_OK)
        goto done;
    rc = MEL_ENOMEM;
    ret = mel__calloc(g->alloc, nn ? nn : 1, sizeof *ret);
    if (!ret)
        goto done;
    for (v = 0; v < nn; v++)
        ret[v] = (g->flags[v] & MEL_NODE_DELETED) ? 0 : mel_graph_size(g, v);
    r = get_retention(g);
    if (!r)
        goto done;
    mel__domtree_free(&r->tree, g->alloc);
    mel__free(g->alloc, r->retained, ((size_t)nn ? nn : 1) * sizeof *ret);
    mel__retained_sizes(&tree, ret, &r->total);
    r->tree = tree;
    r->retained = ret;
    r->has_dom = 1;
    memset(&tree, 0, sizeof tree);
    ret = NULL;
    rc = MEL_OK;
done:
    mel__domtree_free(&tree, g->alloc);
    mel__free(g->alloc, ret, ((size_t)nn ? nn : 1) * sizeof *ret);
    mel__free(g->alloc, markers, (nmarkers ? nmarkers : 1) * sizeof *markers);
    return rc;
}

int mel_graph_has_dominators(const mel_graph *g)
{
    const retention *r = g ? find_retention(g) : NULL;
    return r != NULL && r->has_dom;
}

uint32_t mel_graph_idom(const mel_graph *g, uint32_t i)
{
    const retention *r = g ? find_retention(g) : NULL;

    if (!r || !r->has_dom || i >= r->nodes)
        return MEL_NONE;
    return r->tree.idom[i];
}

uint64_t mel_graph_retained(const mel_graph *g, uint32_t i)
{
    const retention *r = g ? find_retention(g) : NULL;

    if (!r || !r->has_dom || i >= r->nodes)
        return 0;
    return r->retained[i];
}

uint64_t mel_graph_retained_total(const mel_graph *g)
{
    const retention *r = g ? find_retention(g) : NULL;
    return r && r->has_dom ? r->total : 0;
}

int mel__graph_domtree(const struct mel_graph *g, const mel__domtree **tree,
                       const uint64_t **retained)
{
    const retention *r = find_retention(g);

    if (!r || !r->has_dom)
        return MEL_EINVAL;
    *tree = &r->tree;
    *retained = r->retained;
    return MEL_OK;
}

int mel_retained_by_type(const mel_graph *g, uint64_t **per_type, size_t *ntypes)
{
    const retention *r = g ? find_retention(g) : NULL;
    uint32_t *koff = NULL, *kid = NULL, *onpath = NULL, *stack = NULL, *cursor = NULL;
    uint64_t *sums = NULL;
    uint32_t nt, sp = 0, k;
    int rc = MEL_ENOMEM;

    if (!per_type || !ntypes)
        return MEL_EINVAL;
    *per_type = NULL;
    *ntypes = 0;
    if (!r || !r->has_dom)
        return MEL_EINVAL;
    nt = g->ntypes;
    sums = calloc(nt ? nt : 1, sizeof *sums);
    onpath = mel__calloc(g->alloc, nt ? nt : 1, sizeof *onpath);
    stack = mel__calloc(g->alloc, (size_t)r->tree.nlive + 1, sizeof *stack);
    cursor = mel__calloc(g->alloc, (size_t)r->tree.nlive + 1, sizeof *cursor);
    if (!sums || !onpath || !stack || !cursor)
        goto done;
    if ((rc = mel__dom_children(&r->tree, g->alloc, &koff, &kid)) != MEL_OK)
        goto done;
    /* Depth-first over the dominator tree from the super-root (node n):
     * onpath[t] counts the objects of type t on the current tree path, so
     * an object adds its retained size only when no dominator shares its
     * type. */
    stack[0] = r->nodes;
    cursor[0] = koff[r->nodes];
    sp = 1;
    while (sp > 0) {
        uint32_t top = stack[sp - 1];
        if (cursor[sp - 1] < koff[top + 1]) {
            uint32_t c = kid[cursor[sp - 1]++], t = g->type[c];
            if (onpath[t] == 0)
                sums[t] += r->retained[c];
            onpath[t]++;
            stack[sp] = c;
            cursor[sp] = koff[c];
            sp++;
        } else {
            sp--;
            if (sp > 0)
                onpath[g->type[top]]--;
        }
    }
    *per_type = sums;
    *ntypes = nt;
    sums = NULL;
    rc = MEL_OK;
done:
    free(sums);
    k = r->tree.nlive + 1;
    mel__free(g->alloc, onpath, (nt ? nt : 1) * sizeof *onpath);
    mel__free(g->alloc, stack, (size_t)k * sizeof *stack);
    mel__free(g->alloc, cursor, (size_t)k * sizeof *cursor);
    mel__free(g->alloc, koff, ((size_t)r->nodes + 2) * sizeof *koff);
    mel__free(g->alloc, kid, ((size_t)r->tree.nlive ? r->tree.nlive : 1) * sizeof *kid);
    return rc;
}

/* --- paths -------------------------------------------------------------- */

int mel_path_to(mel_graph *g, uint32_t target, uint32_t **out, size_t *n)
{
    retention *r;
    uint32_t *path, v;
    size_t len = 0, k;
    int rc;

    if (!g || !out || !n)
        return MEL_EINVAL;
    *out = NULL;
    *n = 0;
    if (target >= mel__nodes(g))
        return MEL_EINVAL;
    if (g->flags[target] & MEL_NODE_DELETED)
        return MEL_ENOTFOUND;
    r = get_retention(g);
    if (!r)
        return MEL_ENOMEM;
    if (!r->bfs_parent) {
        mel__digraph dg;
        uint32_t *markers = NULL;
        size_t nmarkers = 0;
        if ((rc = marker_nodes(g, &markers, &nmarkers)) != MEL_OK)
            return rc;
        mel__graph_digraph(g, &dg);
        rc = mel__bfs_parents(&dg, markers, nmarkers, g->alloc, &r->bfs_parent);
        mel__free(g->alloc, markers, (nmarkers ? nmarkers : 1) * sizeof *markers);
        if (rc != MEL_OK)
            return rc;
    }
    for (v = target; v != MEL_NONE; v = r->bfs_parent[v]) {
        if (len > r->nodes)
            return MEL_ENOTFOUND; /* a parent cycle: cannot happen after a BFS */
        len++;
    }
    path = malloc(len * sizeof *path);
    if (!path)
        return MEL_ENOMEM;
    for (k = len, v = target; k-- > 0; v = r->bfs_parent[v])
        path[k] = v;
    *out = path;
    *n = len;
    return MEL_OK;
}
