/* test_dominators.c - the Semi-NCA dominator tree and retained sizes,
 * checked against the dataflow definition dom(v) = {v} + intersection of
 * dom(p) over the predecessors p, computed independently with bitsets. */
#include "analysis_internal.h"
#include "mtest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAXN 48
#define SUPER MAXN /* the super-root's slot in the reference */

typedef uint64_t bits; /* a set of nodes 0..63; SUPER fits */

typedef struct tgraph {
    uint32_t n;
    uint8_t adj[MAXN][MAXN]; /* number of edges v->c */
    uint8_t dead[MAXN];
    uint64_t size[MAXN];
    uint32_t markers[8];
    size_t nmarkers;
    /* CSR form */
    uint32_t off[MAXN + 1];
    uint32_t dst[MAXN * MAXN * 2];
    uint32_t poff[MAXN + 1];
    uint32_t pdst[MAXN * MAXN * 2];
} tgraph;

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd(uint32_t bound)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % bound);
}

/* Builds successor and predecessor CSR from adj (predecessors keep duplicates). */
static void tg_finish(tgraph *t)
{
    uint32_t e = 0, pe = 0;
    uint32_t v, c, k;

    for (v = 0; v < t->n; v++) {
        t->off[v] = e;
        for (c = 0; c < t->n; c++)
            for (k = 0; k < t->adj[v][c]; k++)
                t->dst[e++] = c;
    }
    t->off[t->n] = e;
    for (c = 0; c < t->n; c++) {
        t->poff[c] = pe;
        for (v = 0; v < t->n; v++)
            for (k = 0; k < t->adj[v][c]; k++)
                t->pdst[pe++] = v;
    }
    t->poff[t->n] = pe;
}

static mel__digraph tg_succ(const tgraph *t)
{
    mel__digraph g = {t->n, t->off, t->dst, t->dead, 1, 0, NULL, NULL};
    return g;
}

static mel__digraph tg_pred(const tgraph *t)
{
    mel__digraph g = {t->n, t->poff, t->pdst, t->dead, 1, 0, NULL, NULL};
    return g;
}

/* --- the independent reference ----------------------------------------- */

static int live(const tgraph *t, uint32_t v)
{
    return !t->dead[v];
}

static int live_edge(const tgraph *t, uint32_t v, uint32_t c)
{
    return t->adj[v][c] && live(t, v) && live(t, c);
}

/* The super-root's children: markers, in-degree 0 (self loops left out),
 * then one unreached node at a time (lowest index) until everything live
 * is reached. */
static bits ref_roots(const tgraph *t)
{
    bits roots = 0, reach;
    uint32_t v, c;

    for (size_t m = 0; m < t->nmarkers; m++)
        if (t->markers[m] < t->n && live(t, t->markers[m]))
            roots |= 1ull << t->markers[m];
    for (c = 0; c < t->n; c++) {
        int has = 0;
        for (v = 0; v < t->n; v++)
            has |= v != c && live_edge(t, v, c);
        if (live(t, c) && !has)
            roots |= 1ull << c;
    }
    for (;;) {
        int changed = 1;
        reach = roots;
        while (changed) {
            changed = 0;
            for (v = 0; v < t->n; v++)
                if (reach >> v & 1)
                    for (c = 0; c < t->n; c++)
                        if (live_edge(t, v, c) && !(reach >> c & 1)) {
                            reach |= 1ull << c;
                            changed = 1;
                        }
        }
        for (v = 0; v < t->n; v++)
            if (live(t, v) && !(reach >> v & 1))
                break;
        if (v == t->n)
            return roots;
        roots |= 1ull << v;
    }
}

static void ref_dominators(const tgraph *t, bits dom[MAXN + 1])
{
    bits roots = ref_roots(t), all = 0;
    uint32_t v, p;
    int changed = 1;

    for (v = 0; v < t->n; v++)
        if (live(t, v))
            all |= 1ull << v;
    all |= 1ull << SUPER;
    for (v = 0; v < t->n; v++)
        dom[v] = live(t, v) ? all : 0;
    dom[SUPER] = 1ull << SUPER;
    while (changed) {
        changed = 0;
        for (v = 0; v < t->n; v++) {
            bits d = all;
            if (!live(t, v))
                continue;
            if (roots >> v & 1)
                d &= dom[SUPER];
            for (p = 0; p < t->n; p++)
                if (live_edge(t, p, v))
                    d &= dom[p];
            d |= 1ull << v;
            if (d != dom[v]) {
                dom[v] = d;
                changed = 1;
            }
        }
    }
}

static int popcount(bits b)
{
    int k = 0;
    while (b) {
        b &= b - 1;
        k++;
    }
    return k;
}

/* The strict dominator with the most dominators of its own is the nearest. */
static uint32_t ref_idom(const bits dom[MAXN + 1], uint32_t v)
{
    bits strict = dom[v] & ~(1ull << v);
    uint32_t best = SUPER, d;
    int best_k = -1;

    for (d = 0; d <= SUPER; d++)
        if ((strict >> d & 1) && popcount(dom[d]) > best_k) {
            best_k = popcount(dom[d]);
            best = d;
        }
    return best == SUPER ? MEL_NONE : best;
}

/* --- checks ------------------------------------------------------------ */

static int check_against_reference(const tgraph *t, int use_preds)
{
    bits dom[MAXN + 1];
    mel__domtree tree;
    mel__digraph g = tg_succ(t), pg = tg_pred(t);
    uint64_t ret[MAXN], total = 0, want_total = 0;
    uint32_t pos[MAXN];
    uint32_t v, w, nlive = 0;
    int before = mt_failures;

    ref_dominators(t, dom);
    MT_EQ_INT(mel__dominators(&g, use_preds ? &pg : NULL, t->markers, t->nmarkers, NULL, NULL,
                              NULL, &tree),
              MEL_OK);
    for (v = 0; v < t->n; v++)
        ret[v] = live(t, v) ? t->size[v] : 0;
    mel__retained_sizes(&tree, ret, &total);
    for (v = 0; v < t->n; v++) {
        pos[v] = MEL_NONE;
        if (live(t, v)) {
            nlive++;
            want_total += t->size[v];
        }
    }
    MT_EQ_INT(tree.nlive, nlive);
    for (uint32_t k = 0; k < tree.nlive; k++) {
        MT_CHECK(tree.order[k] < t->n && pos[tree.order[k]] == MEL_NONE);
        pos[tree.order[k]] = k;
    }
    MT_EQ_INT(total, want_total);
    for (v = 0; v < t->n; v++) {
        uint64_t want_ret = 0;
        if (!live(t, v)) {
            MT_EQ_INT(tree.idom[v], MEL_NONE);
            MT_EQ_INT(ret[v], 0);
            continue;
        }
        MT_EQ_INT(tree.idom[v], ref_idom(dom, v));
        if (tree.idom[v] != MEL_NONE)
            MT_CHECK(pos[tree.idom[v]] < pos[v]);
        for (w = 0; w < t->n; w++)
            if (live(t, w) && (dom[w] >> v & 1))
                want_ret += t->size[w];
        MT_EQ_INT(ret[v], want_ret);
    }
    mel__domtree_free(&tree, NULL);
    return mt_failures == before;
}

static void random_graph(tgraph *t)
{
    uint32_t v, e, ne;

    memset(t, 0, sizeof *t);
    t->n = 1 + rnd(MAXN);
    ne = rnd(t->n * 3 + 1);
    for (e = 0; e < ne; e++) {
        uint32_t a = rnd(t->n), b = rnd(10) == 0 ? a : rnd(t->n);
        if (t->adj[a][b] < 3)
            t->adj[a][b]++;
    }
    for (v = 0; v < t->n; v++) {
        t->size[v] = rnd(4) == 0 ? 0 : 1 + rnd(1000); /* size 0: a dangling (missing) node */
        t->dead[v] = rnd(12) == 0;
    }
    t->nmarkers = rnd(4);
    for (size_t m = 0; m < t->nmarkers; m++)
        t->markers[m] = rnd(t->n + 2); /* out-of-range markers are ignored */
    tg_finish(t);
}

static void test_random_graphs(void)
{
    static tgraph t;
    int bad = 0;

    for (int i = 0; i < 2000 && bad < 3; i++) {
        random_graph(&t);
        if (!check_against_reference(&t, i & 1)) {
            fprintf(stderr, "  random graph %d (n=%u) differs\n", i, t.n);
            bad++;
        }
    }
}

static void add_edge(tgraph *t, uint32_t a, uint32_t b)
{
    t->adj[a][b]++;
}

static void hand_graph(tgraph *t, uint32_t n)
{
    memset(t, 0, sizeof *t);
    t->n = n;
    for (uint32_t v = 0; v < n; v++)
        t->size[v] = 10u << v;
}

static void compute(tgraph *t, mel__domtree *tree, uint64_t *ret)
{
    mel__digraph g;
    tg_finish(t);
    g = tg_succ(t);
    MT_EQ_INT(mel__dominators(&g, NULL, t->markers, t->nmarkers, NULL, NULL, NULL, tree), MEL_OK);
    for (uint32_t v = 0; v < t->n; v++)
        ret[v] = t->dead[v] ? 0 : t->size[v];
    mel__retained_sizes(tree, ret, NULL);
}

static void test_diamond(void)
{
    static tgraph t;
    mel__domtree tree;
    uint64_t ret[MAXN];

    /* 0 -> 1, 0 -> 2, 1 -> 3, 2 -> 3, 3 -> 4 */
    hand_graph(&t, 5);
    add_edge(&t, 0, 1);
    add_edge(&t, 0, 2);
    add_edge(&t, 1, 3);
    add_edge(&t, 2, 3);
    add_edge(&t, 3, 4);
    compute(&t, &tree, ret);
    MT_EQ_INT(tree.idom[0], MEL_NONE);
    MT_EQ_INT(tree.idom[1], 0);
    MT_EQ_INT(tree.idom[2], 0);
    MT_EQ_INT(tree.idom[3], 0);
    MT_EQ_INT(tree.idom[4], 3);
    MT_EQ_INT(ret[0], 10 + 20 + 40 + 80 + 160);
    MT_EQ_INT(ret[1], 20);
    MT_EQ_INT(ret[3], 80 + 160);
    mel__domtree_free(&tree, NULL);
}

static void test_cycle_and_self_loop(void)
{
    static tgraph t;
    mel__domtree tree;
    uint64_t ret[MAXN];

    /* root 0 -> 1 -> 2 -> 3 -> 1 (cycle), 2 -> 2 (self loop) */
    hand_graph(&t, 4);
    add_edge(&t, 0, 1);
    add_edge(&t, 1, 2);
    add_edge(&t, 2, 3);
    add_edge(&t, 3, 1);
    add_edge(&t, 2, 2);
    compute(&t, &tree, ret);
    MT_EQ_INT(tree.idom[1], 0);
    MT_EQ_INT(tree.idom[2], 1);
    MT_EQ_INT(tree.idom[3], 2);
    MT_EQ_INT(ret[1], 20 + 40 + 80);
    MT_EQ_INT(ret[0], 150);
    mel__domtree_free(&tree, NULL);
}

static void test_unreachable_island(void)
{
    static tgraph t;
    mel__domtree tree;
    uint64_t ret[MAXN], total;

    /* 0 -> 1; island 3 <-> 2 -> 4 hangs from nothing: its lowest index (2)
     * becomes a child of the super-root. */
    hand_graph(&t, 5);
    add_edge(&t, 0, 1);
    add_edge(&t, 3, 2);
    add_edge(&t, 2, 3);
    add_edge(&t, 2, 4);
    tg_finish(&t);
    {
        mel__digraph g = tg_succ(&t);
        MT_EQ_INT(mel__dominators(&g, NULL, NULL, 0, NULL, NULL, NULL, &tree), MEL_OK);
    }
    memcpy(ret, t.size, sizeof ret);
    mel__retained_sizes(&tree, ret, &total);
    MT_EQ_INT(tree.idom[2], MEL_NONE);
    MT_EQ_INT(tree.idom[3], 2);
    MT_EQ_INT(tree.idom[4], 2);
    MT_EQ_INT(ret[2], 40 + 80 + 160);
    MT_EQ_INT(total, 310);
    mel__domtree_free(&tree, NULL);
}

static void test_markers_and_dead_nodes(void)
{
    static tgraph t;
    mel__domtree tree;
    uint64_t ret[MAXN];

    /* marker 1 is referenced by 0, so it is dominated by nothing but the
     * super-root; 2 is reachable from 0 and 1; dead node 3 points at 4,
     * which is then unreferenced (a root); 4 -> 5 and 1 -> 5. */
    hand_graph(&t, 6);
    add_edge(&t, 0, 1);
    add_edge(&t, 0, 2);
    add_edge(&t, 1, 2);
    add_edge(&t, 3, 4);
    add_edge(&t, 4, 5);
    add_edge(&t, 1, 5);
    add_edge(&t, 1, 3);
    t.dead[3] = 1;
    t.markers[0] = 1;
    t.nmarkers = 1;
    compute(&t, &tree, ret);
    MT_EQ_INT(tree.idom[1], MEL_NONE);
    MT_EQ_INT(tree.idom[0], MEL_NONE);
    MT_EQ_INT(tree.idom[2], MEL_NONE);
    MT_EQ_INT(tree.idom[3], MEL_NONE);
    MT_EQ_INT(tree.idom[4], MEL_NONE);
    MT_EQ_INT(tree.idom[5], MEL_NONE);
    MT_EQ_INT(ret[3], 0);
    MT_EQ_INT(ret[1], 20);
    MT_EQ_INT(tree.nlive, 5);
    MT_EQ_INT(tree.order[0], 1); /* the marker comes first */
    mel__domtree_free(&tree, NULL);
}

static void test_dom_children(void)
{
    static tgraph t;
    mel__domtree tree;
    uint64_t ret[MAXN];
    uint32_t *koff, *kid;

    hand_graph(&t, 5);
    add_edge(&t, 0, 1);
    add_edge(&t, 0, 2);
    add_edge(&t, 1, 3);
    add_edge(&t, 2, 3);
    add_edge(&t, 3, 4);
    compute(&t, &tree, ret);
    MT_EQ_INT(mel__dom_children(&tree, NULL, &koff, &kid), MEL_OK);
    MT_EQ_INT(koff[1] - koff[0], 3); /* 0 dominates 1, 2, 3 */
    MT_EQ_INT(koff[4] - koff[3], 1);
    MT_EQ_INT(kid[koff[3]], 4);
    MT_EQ_INT(koff[6] - koff[5], 1); /* super-root: only 0 */
    MT_EQ_INT(kid[koff[5]], 0);
    free(koff);
    free(kid);
    mel__domtree_free(&tree, NULL);
}

static void test_long_chain(void)
{
    /* a 200k-node chain with back edges: deep DFS and long EVAL paths must
     * not recurse */
    const uint32_t n = 200000;
    uint32_t *off = calloc(n + 1, sizeof *off);
    uint32_t *dst = calloc(2 * (size_t)n, sizeof *dst);
    uint64_t *ret = calloc(n, sizeof *ret);
    mel__domtree tree;
    uint32_t e = 0;
    uint64_t total;
    uint32_t v;

    MT_CHECK(off && dst && ret);
    if (!off || !dst || !ret)
        goto done;
    for (v = 0; v < n; v++) {
        off[v] = e;
        if (v + 1 < n)
            dst[e++] = v + 1;
        if (v > 0 && v % 7 == 0)
            dst[e++] = v / 2; /* back edge towards the start */
    }
    off[n] = e;
    {
        mel__digraph g = {n, off, dst, NULL, 0, 0, NULL, NULL};
        MT_EQ_INT(mel__dominators(&g, NULL, NULL, 0, NULL, NULL, NULL, &tree), MEL_OK);
    }
    for (v = 0; v < n; v++)
        ret[v] = 1;
    mel__retained_sizes(&tree, ret, &total);
    MT_EQ_INT(total, n);
    for (v = 1; v < n; v++)
        if (tree.idom[v] != v - 1)
            break;
    MT_EQ_INT(v, n);
    MT_EQ_INT(ret[0], n);
    MT_EQ_INT(ret[n / 2], n - n / 2);
    mel__domtree_free(&tree, NULL);
done:
    free(off);
    free(dst);
    free(ret);
}

static int cancel_at_once(void *ctx, const mel_progress *p)
{
    (void)p;
    ++*(int *)ctx;
    return 1;
}

static void test_cancel(void)
{
    static tgraph t;
    mel__domtree tree;
    mel__digraph g;
    int calls = 0;

    hand_graph(&t, 3);
    add_edge(&t, 0, 1);
    tg_finish(&t);
    g = tg_succ(&t);
    MT_EQ_INT(mel__dominators(&g, NULL, NULL, 0, cancel_at_once, &calls, NULL, &tree),
              MEL_ECANCELED);
    MT_CHECK(calls >= 1);
    MT_CHECK(tree.idom == NULL && tree.order == NULL);
}

static void test_out_of_memory(void)
{
    static tgraph t;
    mel__domtree tree;
    mel__digraph g, pg;
    int use_preds;

    rng_state = 12345;
    do
        random_graph(&t);
    while (t.n < 20);
    g = tg_succ(&t);
    pg = tg_pred(&t);
    for (use_preds = 0; use_preds < 2; use_preds++) {
        for (uint64_t k = 1; k < 100; k++) {
            mel_failing_allocator fa;
            int rc;
            mel_failing_allocator_init(&fa, k);
            rc = mel__dominators(&g, use_preds ? &pg : NULL, t.markers, t.nmarkers, NULL, NULL,
                                 &fa.base, &tree);
            if (rc == MEL_OK) {
                mel__domtree_free(&tree, &fa.base);
                MT_EQ_INT(fa.live, 0);
                break;
            }
            MT_EQ_INT(rc, MEL_ENOMEM);
            MT_EQ_INT(fa.live, 0);
        }
    }
}

int main(void)
{
    MT_RUN(test_diamond);
    MT_RUN(test_cycle_and_self_loop);
    MT_RUN(test_unreachable_island);
    MT_RUN(test_markers_and_dead_nodes);
    MT_RUN(test_dom_children);
    MT_RUN(test_long_chain);
    MT_RUN(test_cancel);
    MT_RUN(test_out_of_memory);
    MT_RUN(test_random_graphs);
    return MT_END();
}
