/*
 * dominators.c - the dominator tree of an object graph under a virtual
 * super-root, by Semi-NCA (Georgiadis 2005): semidominators as in
 * Lengauer-Tarjan, computed with path compression, then every immediate
 * dominator as the nearest common ancestor of the semidominator and the DFS
 * parent, found by walking up the tree built so far.
 *
 * Everything works in DFS preorder numbers: the super-root is 0, the graph's
 * live nodes are 1..N.  No recursion: the DFS keeps a per-vertex edge cursor
 * and walks back through parent[], and EVAL compresses paths with an explicit
 * stack.  Working memory is six u32 arrays (24 bytes per node) when the
 * caller passes predecessor lists.  Without them the back and cross edges
 * are copied in preorder space (4 bytes per node of offsets and 4 per edge)
 * and share one block with EVAL's arrays (see build_reverse), and vertex[]
 * is dropped meanwhile (rebuilt from num[] at the end), so the peak is
 * about 16 bytes per node plus 8 per node or 4 per such edge, whichever is
 * more.  EVAL keeps each vertex's forest ancestor and the least
 * semidominator on its compressed path side by side (one cache line).
 */
#define _DEFAULT_SOURCE 1 /* MADV_HUGEPAGE */
#include "analysis_internal.h"

#include <string.h>
#include <sys/mman.h>

#define PROGRESS_EVERY (1u << 20)
#define PIPE 16 /* vertices between the first and the last prefetch stage */

typedef struct dom_work {
    const mel_allocator *a;
    uint32_t n, nlive;
    uint32_t *num;     /* node -> preorder number, 0 = not visited (n entries) */
    uint32_t *vertex;  /* preorder number -> node (nlive+1 entries; [0] unused) */
    uint32_t *idom;    /* DFS parent, then immediate dominator (preorder space) */
    uint32_t *al;      /* EVAL pairs (preorder space): al[2p] forest ancestor,
                          al[2p+1] least semidominator on p's compressed path */
    uint32_t *semi;    /* DFS edge cursor, then semidominator (preorder space) */
    uint32_t *roff;    /* back/cross edges in preorder space, or NULL */
    uint32_t *rdst;    /* the edges, then al, in one block of rcap words */
    uint64_t nredges;
    size_t rcap;
    uint32_t *stack;   /* EVAL path stack */
    size_t stack_cap;
    mel_progress_fn progress;
    void *progress_ctx;
} dom_work;

static int tick(dom_work *w, uint64_t done)
{
    mel_progress p;

    if (!w->progress)
        return MEL_OK;
    memset(&p, 0, sizeof p);
    p.objects = done;
    p.phase = "dominators";
    return w->progress(w->progress_ctx, &p) ? MEL_ECANCELED : MEL_OK;
}

/* Asks for transparent huge pages on the whole pages inside a big block:
 * the passes below are random accesses over arrays of hundreds of MB. */
static void hint_huge(void *p, size_t n)
{
#ifdef MADV_HUGEPAGE
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t lo = ((uintptr_t)p + huge - 1) & ~(huge - 1);
    uintptr_t hi = ((uintptr_t)p + n) & ~(huge - 1);
    if (n >= 4 * huge && hi > lo)
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

static uint32_t *alloc_u32(const mel_allocator *a, size_t count)
{
    uint32_t *p = mel__calloc(a, count ? count : 1, sizeof(uint32_t));
    if (p)
        hint_huge(p, count * sizeof(uint32_t));
    return p;
}

static void free_u32(const mel_allocator *a, uint32_t **p, size_t count)
{
    mel__free(a, *p, (count ? count : 1) * sizeof(uint32_t));
    *p = NULL;
}

/* Depth-first preorder from root r, numbering from *next.  The edge scan of
 * the vertex on top keeps its cursor in registers and prefetches the
 * preorder number of the successor LOOKAHEAD edges ahead: most edges lead to
 * vertices seen already, so the scan is a run of random reads of num[]. */
#define LOOKAHEAD 8
static void dfs_from(const mel__digraph *g, dom_work *w, uint32_t r, uint32_t *next)
{
    uint32_t cur = (*next)++;
    uint32_t *num = w->num;

    num[r] = cur;
    w->vertex[cur] = r;
    w->idom[cur] = 0;
    w->semi[cur] = 0;
    while (cur != 0) {
        uint32_t v = w->vertex[cur], k = w->semi[cur], d = mel__dg_deg(g, v), c = 0;
        const uint32_t *s = mel__dg_succ(g, v);
        int found = 0;

        while (k < d) {
            if (k + LOOKAHEAD < d)
                __builtin_prefetch(&num[s[k + LOOKAHEAD]]);
            if (k + LOOKAHEAD / 2 < d) {
                uint32_t a = s[k + LOOKAHEAD / 2];
                if (num[a] == 0) { /* likely the next tree edge: its edge list */
                    __builtin_prefetch(&g->off[a]);
                    if (g->flags)
                        __builtin_prefetch(&g->flags[a]);
                }
            }
            if (k + 2 < d) {
                uint32_t a = s[k + 2];
                if (num[a] == 0)
                    __builtin_prefetch(mel__dg_succ(g, a));
            }
            c = s[k++];
            if (num[c] == 0 && !mel__dg_dead(g, c)) {
                found = 1;
                break;
            }
        }
        w->semi[cur] = k;
        if (found) {
            uint32_t nk = (*next)++;
            const uint32_t *cs = mel__dg_succ(g, c);
            uint32_t cd = mel__dg_deg(g, c);
            for (uint32_t j = 0; j < cd && j < LOOKAHEAD; j++)
                __builtin_prefetch(&num[cs[j]]);
            num[c] = nk;
            w->vertex[nk] = c;
            w->idom[nk] = cur;
            w->semi[nk] = 0;
            cur = nk;
        } else {
            cur = w->idom[cur];
        }
    }
}

/* Numbers every live node: roots first, then each unreached node in index
 * order as a further child of the super-root. */
static int number_nodes(const mel__digraph *g, dom_work *w, const uint32_t *roots,
                        size_t nroots)
{
    uint32_t next = 1, v;
    uint64_t last = 0;
    int rc;

    for (size_t k = 0; k < nroots; k++) {
        if (w->num[roots[k]] == 0)
            dfs_from(g, w, roots[k], &next);
        if (next - last >= PROGRESS_EVERY) {
            last = next;
            if ((rc = tick(w, next)) != MEL_OK)
                return rc;
        }
    }
    for (v = 0; v < g->n; v++) {
        if (w->num[v] == 0 && !mel__dg_dead(g, v))
            dfs_from(g, w, v, &next);
        if (next - last >= PROGRESS_EVERY) {
            last = next;
            if ((rc = tick(w, next)) != MEL_OK)
                return rc;
        }
    }
    return next - 1 == w->nlive ? MEL_OK : MEL_EINVAL;
}

/* Reverse graph in preorder space, for the edges that matter to EVAL.
 * An edge q -> p with q < p (tree and forward edges) only offers q itself as
 * a semidominator candidate: those are folded into semi[p] here, in a
 * forward pass, and not stored.  The others (q > p: back and cross edges)
 * are stored: predecessors of p are rdst[roff[p] .. roff[p+1]).  Node order
 * is walked, so num[] is the only map needed. */
static int build_reverse(const mel__digraph *g, dom_work *w)
{
    uint32_t v, j, d, N = w->nlive, p;
    uint64_t total = 0;

    w->roff = alloc_u32(w->a, (size_t)N + 2);
    if (!w->roff)
        return MEL_ENOMEM;
    for (v = 0; v < g->n; v++) {
        const uint32_t *s;
        uint32_t q = w->num[v];
        if (q == 0)
            continue;
        s = mel__dg_succ(g, v);
        d = mel__dg_deg(g, v);
        for (j = 0; j < d; j++)
            __builtin_prefetch(&w->num[s[j]]);
        for (j = 0; j < d; j++) {
            uint32_t c = w->num[s[j]];
            if (c == 0)
                continue;
            if (q < c) {
                if (q < w->semi[c])
                    w->semi[c] = q;
            } else if (q > c) {
                w->roff[c]++;
            }
        }
    }
    for (p = 0; p <= N + 1; p++) {
        uint32_t c = w->roff[p];
        w->roff[p] = (uint32_t)total;
        total += c;
    }
    w->nredges = total;
    /* One block holds the edges and, from SNCA on, al: vertex q's pair sits
     * at word base + 2q with base = rcap - 2(N+1).  SNCA takes p from N
     * down to 1 and only reads the edges of vertices <= p, which end at
     * roff[p+1], and the pairs of vertices >= p: so when every pair q lies
     * at or above roff[q], that is rcap >= roff[q] + 2(N - q + 1), pair p is
     * written over edges already read, and the block needs about
     * max(edges, 2N) words instead of edges + 2N. */
    w->rcap = (size_t)total > 2 * (size_t)N + 2 ? (size_t)total : 2 * (size_t)N + 2;
    for (p = 1; p <= N; p++) {
        size_t need = (size_t)w->roff[p] + 2 * ((size_t)N - p + 1);
        if (need > w->rcap)
            w->rcap = need;
    }
    w->rdst = alloc_u32(w->a, w->rcap);
    if (!w->rdst)
        return MEL_ENOMEM;
    for (v = 0; v < g->n; v++) {
        const uint32_t *s;
        uint32_t q = w->num[v];
        if (q == 0)
            continue;
        s = mel__dg_succ(g, v);
        d = mel__dg_deg(g, v);
        for (j = 0; j < d; j++) {
            uint32_t c = w->num[s[j]];
            if (c != 0 && q > c)
                w->rdst[w->roff[c]++] = q;
        }
    }
    /* each roff[p] now holds the end of p's list: shift to starts */
    memmove(w->roff + 1, w->roff, ((size_t)N + 1) * sizeof *w->roff);
    w->roff[0] = 0;
    return MEL_OK;
}

/* EVAL(v) for a processed vertex v (v > cur): compresses v's forest path up
 * to the first vertex not yet processed and returns the least semidominator
 * on it. */
static int eval(dom_work *w, uint32_t v, uint32_t cur, uint32_t *out)
{
    uint32_t *al = w->al;
    size_t sp = 0;
    uint32_t x = v;

    while (al[2 * (size_t)x] > cur) {
        if (sp == w->stack_cap) {
            size_t ncap = w->stack_cap * 2;
            uint32_t *ns = mel__realloc(w->a, w->stack, w->stack_cap * sizeof *ns,
                                        ncap * sizeof *ns);
            if (!ns)
                return MEL_ENOMEM;
            w->stack = ns;
            w->stack_cap = ncap;
        }
        w->stack[sp++] = x;
        x = al[2 * (size_t)x];
    }
    while (sp > 0) {
        size_t y = 2 * (size_t)w->stack[--sp], p = 2 * (size_t)al[y];
        if (al[p + 1] < al[y + 1])
            al[y + 1] = al[p + 1];
        al[y] = al[p];
    }
    *out = al[2 * (size_t)v + 1];
    return MEL_OK;
}

static int semidominators(const mel__digraph *preds, dom_work *w)
{
    uint32_t N = w->nlive, p;
    int rc;

    /* al[2p] (forest ancestor: the DFS parent to begin with) and al[2p+1]
     * are written when p is processed: EVAL only reads processed vertices,
     * and al may share its block with the edges of vertices not yet read. */
    for (p = N; p >= 1; p--) {
        uint32_t s = w->semi[p]; /* DFS parent, or 0 for a root */
        const uint32_t *pr;
        uint64_t np;

        if (w->roff) {
            pr = w->rdst + w->roff[p];
            np = w->roff[p + 1] - w->roff[p];
            if (p > 4) {
                /* the EVAL pairs of a vertex a few steps ahead */
                const uint32_t *pa = w->rdst + w->roff[p - 4];
                uint32_t na = w->roff[p - 3] - w->roff[p - 4];
                for (uint32_t j = 0; j < na && j < 8; j++)
                    __builtin_prefetch(&w->al[2 * (size_t)pa[j]]);
            }
        } else {
            /* node-space lists: a chain of dependent random reads per
             * vertex (its list offset, the list, each predecessor's
             * number, its EVAL pair), prefetched in stages ahead of p */
            uint32_t v = w->vertex[p];
            if (p > PIPE) {
                uint32_t u = w->vertex[p - PIPE];
                __builtin_prefetch(&preds->off[u]);
                if (preds->flags)
                    __builtin_prefetch(&preds->flags[u]);
            }
            if (p > PIPE / 2)
                __builtin_prefetch(mel__dg_succ(preds, w->vertex[p - PIPE / 2]));
            if (p > PIPE / 4) {
                uint32_t u = w->vertex[p - PIPE / 4], du = mel__dg_deg(preds, u);
                const uint32_t *pu = mel__dg_succ(preds, u);
                for (uint32_t j = 0; j < du && j < 8; j++)
                    if (pu[j] < w->n)
                        __builtin_prefetch(&w->num[pu[j]]);
            }
            pr = mel__dg_succ(preds, v);
            np = mel__dg_deg(preds, v);
            for (uint64_t j = 0; j < np && j < 8; j++)
                if (pr[j] < w->n)
                    __builtin_prefetch(&w->al[2 * (size_t)w->num[pr[j]]]);
        }
        for (uint64_t j = 0; j < np; j++) {
            uint32_t q, cand;
            if (w->roff) {
                q = pr[j];
            } else {
                if (pr[j] >= w->n || mel__dg_dead(preds, pr[j]))
                    continue;
                q = w->num[pr[j]];
                if (q == 0)
                    continue;
            }
            if (q <= p) {
                cand = q;
            } else if ((rc = eval(w, q, p, &cand)) != MEL_OK) {
                return rc;
            }
            if (cand < s)
                s = cand;
        }
        w->semi[p] = s;
        w->al[2 * (size_t)p] = w->idom[p];
        w->al[2 * (size_t)p + 1] = s;
        if (((N - p) & (PROGRESS_EVERY - 1)) == 0 && (rc = tick(w, N - p)) != MEL_OK)
            return rc;
    }
    return MEL_OK;
}

static void nearest_common_ancestors(dom_work *w)
{
    uint32_t N = w->nlive, p;

    w->idom[0] = 0;
    for (p = 1; p <= N; p++) {
        uint32_t x = w->idom[p];
        while (x > w->semi[p])
            x = w->idom[x];
        w->idom[p] = x;
    }
}

int mel__dominators(const mel__digraph *g, const mel__digraph *preds, const uint32_t *markers,
                    size_t nmarkers, mel_progress_fn progress, void *progress_ctx,
                    const mel_allocator *a, mel__domtree *t)
{
    dom_work w;
    uint32_t *roots = NULL, *idom_node = NULL;
    size_t nroots = 0;
    uint32_t v, p;
    int rc = MEL_ENOMEM;

    memset(&w, 0, sizeof w);
    memset(t, 0, sizeof *t);
    w.a = a;
    w.n = g->n;
    w.progress = progress;
    w.progress_ctx = progress_ctx;
    if (g->n == UINT32_MAX) {
        rc = MEL_EINVAL;
        goto done;
    }
    for (v = 0; v < g->n; v++)
        if (!mel__dg_dead(g, v))
            w.nlive++;
    if ((rc = mel__root_list(g, markers, nmarkers, a, &roots, &nroots)) != MEL_OK)
        goto done;
    rc = MEL_ENOMEM;
    w.num = alloc_u32(a, g->n);
    w.vertex = alloc_u32(a, (size_t)w.nlive + 1);
    w.idom = alloc_u32(a, (size_t)w.nlive + 1);
    w.semi = alloc_u32(a, (size_t)w.nlive + 1);
    if (!w.num || !w.vertex || !w.idom || !w.semi)
        goto done;
    if ((rc = number_nodes(g, &w, roots, nroots)) != MEL_OK)
        goto done;
    /* Semidominator candidates start at the DFS parent; a root also has
     * the super-root (0) as a predecessor, even when the DFS reached it
     * from another root first. */
    for (p = 0; p <= w.nlive; p++)
        w.semi[p] = w.idom[p];
    for (size_t k = 0; k < nroots; k++)
        w.semi[w.num[roots[k]]] = 0;
    free_u32(a, &roots, nroots);
    if (!preds) {
        /* Nothing reads vertex[] until the result is laid out, and num[]
         * holds the same map: vertex[] goes now and is rebuilt from num[]
         * at the end, so the edge copy is made without it. */
        free_u32(a, &w.vertex, (size_t)w.nlive + 1);
        if ((rc = build_reverse(g, &w)) != MEL_OK)
            goto done;
    }
    rc = MEL_ENOMEM;
    if (w.rdst)
        w.al = w.rdst + (w.rcap - 2 * ((size_t)w.nlive + 1));
    else if (!(w.al = alloc_u32(a, 2 * ((size_t)w.nlive + 1))))
        goto done;
    w.stack_cap = 1024;
    w.stack = alloc_u32(a, w.stack_cap);
    if (!w.stack)
        goto done;
    if ((rc = semidominators(preds, &w)) != MEL_OK)
        goto done;
    nearest_common_ancestors(&w);

    /* release the working arrays before the result is laid out */
    free_u32(a, &w.stack, w.stack_cap);
    if (!w.rdst)
        free_u32(a, &w.al, 2 * ((size_t)w.nlive + 1));
    w.al = NULL;
    free_u32(a, &w.semi, (size_t)w.nlive + 1);
    free_u32(a, &w.rdst, w.rcap);
    free_u32(a, &w.roff, (size_t)w.nlive + 2);
    rc = MEL_ENOMEM;
    if (!w.vertex) {
        w.vertex = alloc_u32(a, (size_t)w.nlive + 1);
        if (!w.vertex)
            goto done;
        for (v = 0; v < g->n; v++)
            if (w.num[v] != 0)
                w.vertex[w.num[v]] = v;
    }
    free_u32(a, &w.num, g->n);
    idom_node = alloc_u32(a, g->n);
    if (!idom_node)
        goto done;
    for (v = 0; v < g->n; v++)
        idom_node[v] = MEL_NONE;
    for (p = 1; p <= w.nlive; p++)
        idom_node[w.vertex[p]] = w.idom[p] ? w.vertex[w.idom[p]] : MEL_NONE;
    memmove(w.vertex, w.vertex + 1, (size_t)w.nlive * sizeof *w.vertex);
    t->n = g->n;
    t->nlive = w.nlive;
    t->idom = idom_node;
    t->order = w.vertex;
    idom_node = NULL;
    w.vertex = NULL;
    rc = MEL_OK;
done:
    free_u32(a, &roots, nroots);
    free_u32(a, &idom_node, g->n);
    free_u32(a, &w.num, g->n);
    free_u32(a, &w.vertex, (size_t)w.nlive + 1);
    free_u32(a, &w.idom, (size_t)w.nlive + 1);
    if (!w.rdst)
        free_u32(a, &w.al, 2 * ((size_t)w.nlive + 1));
    free_u32(a, &w.semi, (size_t)w.nlive + 1);
    free_u32(a, &w.stack, w.stack_cap);
    free_u32(a, &w.rdst, w.rcap);
    free_u32(a, &w.roff, (size_t)w.nlive + 2);
    return rc;
}

void mel__domtree_free(mel__domtree *t, const mel_allocator *a)
{
    if (!t)
        return;
    free_u32(a, &t->idom, t->n);
    free_u32(a, &t->order, (size_t)t->nlive + 1);
    t->n = t->nlive = 0;
}

void mel__retained_sizes(const mel__domtree *t, uint64_t *ret, uint64_t *total)
{
    uint64_t sum = 0;
    uint32_t k, v;

    for (k = t->nlive; k-- > 0;) {
        uint32_t d;
        v = t->order[k];
        d = t->idom[v];
        if (d != MEL_NONE)
            ret[d] += ret[v];
        else
            sum += ret[v];
    }
    if (total)
        *total = sum;
}

int mel__dom_children(const mel__domtree *t, const mel_allocator *a, uint32_t **koff,
                      uint32_t **kid)
{
    uint32_t *off = NULL, *kids = NULL;
    uint32_t k, total = 0;
    int rc = MEL_ENOMEM;

    *koff = NULL;
    *kid = NULL;
    off = alloc_u32(a, (size_t)t->n + 2);
    kids = alloc_u32(a, t->nlive);
    if (!off || !kids)
        goto done;
    for (k = 0; k < t->nlive; k++) {
        uint32_t d = t->idom[t->order[k]];
        off[d == MEL_NONE ? t->n : d]++;
    }
    for (k = 0; k <= t->n + 1; k++) {
        uint32_t c = off[k];
        off[k] = total;
        total += c;
    }
    for (k = 0; k < t->nlive; k++) {
        uint32_t v = t->order[k], d = t->idom[v];
        kids[off[d == MEL_NONE ? t->n : d]++] = v;
    }
    memmove(off + 1, off, ((size_t)t->n + 1) * sizeof *off);
    off[0] = 0;
    *koff = off;
    *kid = kids;
    off = kids = NULL;
    rc = MEL_OK;
done:
    free_u32(a, &off, (size_t)t->n + 2);
    free_u32(a, &kids, t->nlive);
    return rc;
}
