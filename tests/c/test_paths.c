/* test_paths.c - dominators, retained sizes, shortest paths and edge labels
 * on graphs loaded from small dumps. */
#include "analysis_internal.h"
#include "mtest.h"
#include "mtest_dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t at(const mel_graph *g, uint64_t address)
{
    uint32_t i = mel_graph_lookup(g, address);
    MT_CHECK(i != MEL_NONE);
    return i;
}

#define HEADER                                                                           \
    "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], "          \
    "\"python\": \"3.11.7\", \"roots\": [{\"kind\": \"modules\", \"name\": \"sys.modules\", " \
    "\"address\": 1000}]}\n"

/* sys.modules = {'app': <module app>, 'sys': <module sys>}
 * app.__dict__ = {'cache': [<missing 1011>, 7, 'x', Foo()], "it's\n": 7}
 * Foo() has one attribute x = (1, 2) stored as a name/value pair;
 * sys.__dict__ = {5: <list>}; an unreferenced Bar holds a list. */
static const char *const APP_DUMP =
    HEADER
    "{\"address\": 1000, \"type\": \"dict\", \"size\": 600, \"len\": 2, \"refs\": [1001, 1002, 1003, 1004]}\n"
    "{\"address\": 1001, \"type\": \"str\", \"size\": 52, \"len\": 3, \"value\": \"app\", \"refs\": []}\n"
    "{\"address\": 1002, \"type\": \"module\", \"size\": 72, \"name\": \"app\", \"refs\": [1005]}\n"
    "{\"address\": 1003, \"type\": \"str\", \"size\": 52, \"len\": 3, \"value\": \"sys\", \"refs\": []}\n"
    "{\"address\": 1004, \"type\": \"module\", \"size\": 72, \"name\": \"sys\", \"refs\": [1006]}\n"
    "{\"address\": 1005, \"type\": \"dict\", \"size\": 360, \"len\": 2, \"refs\": [1007, 1008, 1009, 1010]}\n"
    "{\"address\": 1006, \"type\": \"dict\", \"size\": 232, \"len\": 1, \"refs\": [1017, 1018]}\n"
    "{\"address\": 1007, \"type\": \"str\", \"size\": 54, \"len\": 5, \"value\": \"cache\", \"refs\": []}\n"
    "{\"address\": 1008, \"type\": \"list\", \"size\": 120, \"len\": 4, \"refs\": [1011, 1010, 1015, 1014]}\n"
    "{\"address\": 1009, \"type\": \"str\", \"size\": 55, \"len\": 5, \"value\": \"it's\\n\", \"refs\": []}\n"
    "{\"address\": 1010, \"type\": \"int\", \"size\": 28, \"value\": 7, \"refs\": []}\n"
    "{\"address\": 1014, \"type\": \"Foo\", \"size\": 56, \"kv\": 1, \"refs\": [1015, 1016, 1020]}\n"
    "{\"address\": 1015, \"type\": \"str\", \"size\": 50, \"len\": 1, \"value\": \"x\", \"refs\": []}\n"
    "{\"address\": 1016, \"type\": \"tuple\", \"size\": 56, \"len\": 2, \"refs\": [1021, 1022]}\n"
    "{\"address\": 1017, \"type\": \"int\", \"size\": 28, \"value\": 5, \"refs\": []}\n"
    "{\"address\": 1018, \"type\": \"list\", \"size\": 72, \"len\": 1, \"refs\": [1019]}\n"
    "{\"address\": 1019, \"type\": \"list\", \"size\": 64, \"len\": 0, \"refs\": []}\n"
    "{\"address\": 1021, \"type\": \"int\", \"size\": 28, \"value\": 1, \"refs\": []}\n"
    "{\"address\": 1022, \"type\": \"int\", \"size\": 28, \"value\": 2, \"refs\": []}\n"
    "{\"address\": 2000, \"type\": \"Bar\", \"size\": 48, \"refs\": [2001]}\n"
    "{\"address\": 2001, \"type\": \"list\", \"size\": 64, \"len\": 0, \"refs\": []}\n"
    "{\"meliae\": \"end\", \"objects\": 21, \"complete\": true}\n";

static void expect_path(mel_graph *g, uint64_t target, const char *want)
{
    uint32_t *path = NULL;
    size_t n = 0;
    char *text = NULL;

    MT_EQ_INT(mel_path_to(g, at(g, target), &path, &n), MEL_OK);
    MT_CHECK(n >= 1);
    if (n >= 1)
        MT_EQ_INT(mel_graph_address(g, path[n - 1]), target);
    MT_EQ_INT(mel_path_format(g, path, n, &text), MEL_OK);
    if (text)
        MT_EQ_STR(text, want);
    mel_free(text);
    mel_free(path);
}

static void test_path_text(void)
{
    mel_graph *g = mt_load_dump(APP_DUMP);

    if (!g)
        return;
    expect_path(g, 1000, "sys.modules");
    expect_path(g, 1014, "sys.modules['app'].__dict__['cache'][3]");
    expect_path(g, 1016, "sys.modules['app'].__dict__['cache'][3].x");
    expect_path(g, 1022, "sys.modules['app'].__dict__['cache'][3].x[1]");
    /* 7 is both the value of "it's\n" and cache[1]: the dict item is nearer */
    expect_path(g, 1010, "sys.modules['app'].__dict__['it\\'s\\n']");
    expect_path(g, 1019, "sys.modules['sys'].__dict__[5][0]");
    expect_path(g, 2001, "<Bar at 0x7d0>-><list at 0x7d1>");
    /* the dangling ref 1011 is a missing node: still on a path */
    {
        uint32_t m = mel_graph_lookup_any(g, 1011), *path = NULL;
        size_t n = 0;
        char *text = NULL;
        MT_CHECK(m != MEL_NONE && (mel_graph_flags(g, m) & MEL_NODE_MISSING));
        MT_EQ_INT(mel_path_to(g, m, &path, &n), MEL_OK);
        MT_EQ_INT(mel_path_format(g, path, n, &text), MEL_OK);
        if (text)
            MT_EQ_STR(text, "sys.modules['app'].__dict__['cache'][0]");
        mel_free(text);
        mel_free(path);
    }
    mel_graph_free(g);
}

static void test_edge_labels(void)
{
    mel_graph *g = mt_load_dump(APP_DUMP);
    char buf[64];

    if (!g)
        return;
    MT_EQ_INT(mel_edge_label(g, at(g, 1000), at(g, 1002), buf, sizeof buf), 7);
    MT_EQ_STR(buf, "['app']");
    MT_EQ_INT(mel_edge_label(g, at(g, 1000), at(g, 1001), buf, sizeof buf), 7);
    MT_EQ_STR(buf, ".keys()");
    MT_EQ_INT(mel_edge_label(g, at(g, 1002), at(g, 1005), buf, sizeof buf), 9);
    MT_EQ_STR(buf, ".__dict__");
    MT_EQ_INT(mel_edge_label(g, at(g, 1008), at(g, 1015), buf, sizeof buf), 3);
    MT_EQ_STR(buf, "[2]");
    /* not an edge */
    MT_EQ_INT(mel_edge_label(g, at(g, 1008), at(g, 1000), buf, sizeof buf), 2);
    MT_EQ_STR(buf, "->");
    /* truncation follows the snprintf rule */
    MT_EQ_INT(mel_edge_label(g, at(g, 1000), at(g, 1002), buf, 4), 7);
    MT_EQ_STR(buf, "['a");
    MT_EQ_INT(mel_edge_label(g, at(g, 1000), at(g, 1002), NULL, 0), 7);
    mel_graph_free(g);
}

static void test_dominators_on_dump(void)
{
    mel_graph *g = mt_load_dump(APP_DUMP);
    uint64_t *per_type = NULL, total = 0;
    size_t ntypes = 0;
    uint32_t nn, v, list_t;

    if (!g)
        return;
    MT_CHECK(!mel_graph_has_dominators(g));
    MT_EQ_INT(mel_retained_by_type(g, &per_type, &ntypes), MEL_EINVAL);
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_CHECK(mel_graph_has_dominators(g));
    nn = mel_graph_count(g) + mel_graph_missing(g);
    for (v = 0; v < nn; v++)
        total += mel_graph_size(g, v);
    MT_EQ_INT(mel_graph_retained_total(g), total);
    /* the root marker and the unreferenced Bar hang from the super-root */
    MT_EQ_INT(mel_graph_idom(g, at(g, 1000)), MEL_NONE);
    MT_EQ_INT(mel_graph_idom(g, at(g, 2000)), MEL_NONE);
    /* 7 is held by app.__dict__ directly and through the list */
    MT_EQ_INT(mel_graph_idom(g, at(g, 1010)), at(g, 1005));
    /* 'x' is both a list item and Foo's attribute name: the list dominates */
    MT_EQ_INT(mel_graph_idom(g, at(g, 1015)), at(g, 1008));
    MT_EQ_INT(mel_graph_idom(g, at(g, 1016)), at(g, 1014));
    MT_EQ_INT(mel_graph_retained(g, at(g, 1016)), 56 + 28 + 28);
    MT_EQ_INT(mel_graph_retained(g, at(g, 1014)), 56 + 56 + 28 + 28);
    /* the list: itself, 'x', Foo and its tuple, and the missing node (size 0) */
    MT_EQ_INT(mel_graph_retained(g, at(g, 1008)), 120 + 50 + 56 + 56 + 28 + 28);
    MT_EQ_INT(mel_graph_retained(g, at(g, 1000)), total - 48 - 64);
    MT_EQ_INT(mel_graph_retained(g, at(g, 2000)), 48 + 64);
    /* per type: the inner list 1019 is dominated by list 1018, so it does not
     * count again; lists at the top: 1008 (338), 1018 (136), 2001 (64) */
    MT_EQ_INT(mel_retained_by_type(g, &per_type, &ntypes), MEL_OK);
    list_t = mel_graph_type(g, at(g, 1008));
    MT_CHECK(list_t < ntypes);
    if (per_type && list_t < ntypes)
        MT_EQ_INT(per_type[list_t], (120 + 50 + 56 + 56 + 28 + 28) + (72 + 64) + 64);
    mel_free(per_type);
    /* a structural change drops the results */
    MT_EQ_INT(mel_graph_delete(g, at(g, 1014)), MEL_OK);
    MT_CHECK(!mel_graph_has_dominators(g));
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_graph_retained(g, mel_graph_lookup_any(g, 1014)), 0);
    /* Foo was the tuple's only referrer: it is a root now */
    MT_EQ_INT(mel_graph_idom(g, at(g, 1016)), MEL_NONE);
    MT_EQ_INT(mel_graph_retained_total(g), total - 56);
    {
        uint32_t *path = NULL;
        size_t n = 0;
        MT_EQ_INT(mel_path_to(g, mel_graph_lookup_any(g, 1014), &path, &n), MEL_ENOTFOUND);
        MT_EQ_INT(mel_path_to(g, nn + 5, &path, &n), MEL_EINVAL);
    }
    mel_graph_free(g);
}

/* An island: a cycle nothing refers to, plus a self-referencing object. */
static void test_cycles_hanging_from_nothing(void)
{
    static const char *const dump =
        "{\"address\": 1, \"type\": \"list\", \"size\": 10, \"refs\": [2]}\n"
        "{\"address\": 2, \"type\": \"list\", \"size\": 20, \"refs\": [1, 3]}\n"
        "{\"address\": 3, \"type\": \"Node\", \"size\": 30, \"refs\": [3]}\n"
        "{\"address\": 4, \"type\": \"Node\", \"size\": 40, \"refs\": [4]}\n";
    mel_graph *g = mt_load_dump(dump);
    uint32_t *path = NULL;
    size_t n = 0;
    char *text = NULL;

    if (!g)
        return;
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_graph_idom(g, at(g, 1)), MEL_NONE);
    MT_EQ_INT(mel_graph_idom(g, at(g, 2)), at(g, 1));
    MT_EQ_INT(mel_graph_idom(g, at(g, 3)), at(g, 2));
    MT_EQ_INT(mel_graph_idom(g, at(g, 4)), MEL_NONE);
    MT_EQ_INT(mel_graph_retained(g, at(g, 1)), 60);
    MT_EQ_INT(mel_graph_retained_total(g), 100);
    MT_EQ_INT(mel_path_to(g, at(g, 3), &path, &n), MEL_OK);
    MT_EQ_INT(n, 3);
    MT_EQ_INT(mel_path_format(g, path, n, &text), MEL_OK);
    if (text)
        MT_EQ_STR(text, "<list at 0x1>[0][1]");
    mel_free(text);
    mel_free(path);
    mel_graph_free(g);
}

/* Paths start at the header's roots whenever they reach the target, even
 * when an object nobody refers to is nearer (here at one step). */
static void test_markers_before_unreferenced(void)
{
    static const char *const dump =
        HEADER
        "{\"address\": 3000, \"type\": \"Session\", \"size\": 56, \"refs\": [1014, 3001]}\n"
        "{\"address\": 3001, \"type\": \"list\", \"size\": 64, \"len\": 0, \"refs\": []}\n"
        "{\"address\": 1000, \"type\": \"dict\", \"size\": 600, \"len\": 1, \"refs\": [1001, 1002]}\n"
        "{\"address\": 1001, \"type\": \"str\", \"size\": 52, \"len\": 3, \"value\": \"app\", \"refs\": []}\n"
        "{\"address\": 1002, \"type\": \"module\", \"size\": 72, \"name\": \"app\", \"refs\": [1005]}\n"
        "{\"address\": 1005, \"type\": \"dict\", \"size\": 360, \"len\": 1, \"refs\": [1007, 1008]}\n"
        "{\"address\": 1007, \"type\": \"str\", \"size\": 54, \"len\": 5, \"value\": \"cache\", \"refs\": []}\n"
        "{\"address\": 1008, \"type\": \"list\", \"size\": 120, \"len\": 1, \"refs\": [1014]}\n"
        "{\"address\": 1014, \"type\": \"Foo\", \"size\": 56, \"refs\": []}\n";
    mel_graph *g = mt_load_dump(dump);

    if (!g)
        return;
    expect_path(g, 1014, "sys.modules['app'].__dict__['cache'][0]");
    /* what only the unreferenced object reaches starts there */
    expect_path(g, 3001, "<Session at 0xbb8>-><list at 0xbb9>");
    expect_path(g, 3000, "<Session at 0xbb8>");
    mel_graph_free(g);
}

/* An object whose only referrer is itself is a root like an object nobody
 * refers to: it comes before later unreferenced objects. */
static void test_self_reference_is_a_root(void)
{
    static const char *const dump =
        "{\"address\": 1, \"type\": \"S\", \"size\": 10, \"refs\": [1, 3]}\n"
        "{\"address\": 2, \"type\": \"U\", \"size\": 20, \"refs\": [3]}\n"
        "{\"address\": 3, \"type\": \"T\", \"size\": 30, \"refs\": []}\n";
    mel_graph *g = mt_load_dump(dump);
    mel__digraph dg;
    uint32_t *roots = NULL;
    size_t nroots = 0;

    if (!g)
        return;
    mel__graph_digraph(g, &dg);
    MT_EQ_INT(mel__root_list(&dg, NULL, 0, NULL, &roots, &nroots), MEL_OK);
    MT_EQ_INT(nroots, 2);
    if (nroots == 2) {
        MT_EQ_INT(roots[0], at(g, 1));
        MT_EQ_INT(roots[1], at(g, 2));
    }
    mel__free(NULL, roots, nroots * sizeof *roots);
    expect_path(g, 3, "<S at 0x1>-><T at 0x3>");
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_graph_idom(g, at(g, 1)), MEL_NONE);
    MT_EQ_INT(mel_graph_idom(g, at(g, 3)), MEL_NONE);
    MT_EQ_INT(mel_graph_retained(g, at(g, 1)), 10);
    mel_graph_free(g);
}

/* After collapse a module's namespace entries read as attributes. */
static void test_path_text_after_collapse(void)
{
    mel_graph *g = mt_load_dump(APP_DUMP);
    uint64_t n = 0;

    if (!g)
        return;
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_collapse_instance_dicts(g, &n, NULL, NULL), MEL_OK);
    MT_EQ_INT(n, 2); /* app's and sys's dicts */
    MT_EQ_INT(mel_graph_has_dominators(g), 0);
    expect_path(g, 1016, "sys.modules['app'].cache[3].x");
    expect_path(g, 1010, "sys.modules['app'].__dict__['it\\'s\\n']");
    expect_path(g, 1019, "sys.modules['sys'].__dict__[5][0]");
    mel_graph_free(g);
}

/* An allocator that tracks the peak of live bytes. */
typedef struct peak_alloc {
    mel_allocator base;
    size_t live, peak;
} peak_alloc;

static void *pa_malloc(void *ctx, size_t n)
{
    peak_alloc *pa = ctx;
    void *p = malloc(n ? n : 1);
    if (p) {
        pa->live += n;
        if (pa->live > pa->peak)
            pa->peak = pa->live;
    }
    return p;
}

static void *pa_realloc(void *ctx, void *p, size_t old_n, size_t new_n)
{
    peak_alloc *pa = ctx;
    void *q = realloc(p, new_n ? new_n : 1);
    if (q) {
        pa->live = pa->live - old_n + new_n;
        if (pa->live > pa->peak)
            pa->peak = pa->live;
    }
    return q;
}

static void pa_free(void *ctx, void *p, size_t n)
{
    peak_alloc *pa = ctx;
    if (p)
        pa->live -= n;
    free(p);
}

/* R -> A, R -> B, A -> C: A dominates C until B also refers to C. */
static const char *const ABC_DUMP =
    "{\"address\": 1, \"type\": \"R\", \"size\": 1, \"refs\": [2, 3]}\n"
    "{\"address\": 2, \"type\": \"A\", \"size\": 10, \"refs\": [4]}\n"
    "{\"address\": 3, \"type\": \"B\", \"size\": 100, \"refs\": []}\n"
    "{\"address\": 4, \"type\": \"C\", \"size\": 1000, \"refs\": []}\n";

/* Parents that are stale (set_children after them) or capped must not
 * stand in for the reverse edges: the results follow the children. */
static void test_stale_or_capped_parents(void)
{
    mel_graph *g = mt_load_dump(ABC_DUMP);
    uint32_t c;

    if (!g)
        return;
    c = at(g, 4);
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_graph_idom(g, c), at(g, 2));
    MT_EQ_INT(mel_graph_retained(g, at(g, 2)), 1010);
    /* B refers to C now; the parents still say only A does */
    MT_EQ_INT(mel_graph_set_children(g, at(g, 3), &c, 1), MEL_OK);
    MT_EQ_INT(mel_graph_has_parents(g), 1);
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_graph_idom(g, c), at(g, 1));
    MT_EQ_INT(mel_graph_retained(g, at(g, 2)), 10);
    /* one parent kept per node: C's list lacks B */
    MT_EQ_INT(mel_graph_compute_parents(g, 1), MEL_OK);
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_graph_idom(g, c), at(g, 1));
    /* a deleted referrer still listed among the parents */
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);
    MT_EQ_INT(mel_graph_delete(g, at(g, 3)), MEL_OK);
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_graph_idom(g, c), at(g, 2));
    MT_EQ_INT(mel_graph_retained_total(g), 1011);
    mel_graph_free(g);
}

/* Complete parents give the same tree with less working memory. */
static void test_complete_parents_stand_in(void)
{
    static char text[1 << 16];
    size_t n = 0;
    peak_alloc pa[2];
    mel_graph *g[2] = {NULL, NULL};
    uint32_t x = 12345, k, i;

    /* a tangle: 400 objects, each referring to 4 pseudo-random others */
    for (i = 0; i < 400; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n,
                              "{\"address\": %u, \"type\": \"T\", \"size\": %u, \"refs\": [",
                              i + 1, 10 + i % 7);
        for (k = 0; k < 4; k++) {
            x = x * 1103515245u + 12345u;
            n += (size_t)snprintf(text + n, sizeof text - n, "%s%u", k ? ", " : "",
                                  (x >> 16) % 400 + 1);
        }
        n += (size_t)snprintf(text + n, sizeof text - n, "]}\n");
    }
    MT_CHECK(n < sizeof text);
    for (k = 0; k < 2; k++) {
        mel_load_options opts;
        mel_loader *l = NULL;
        mel_error err;
        memset(&pa[k], 0, sizeof pa[k]);
        pa[k].base.malloc = pa_malloc;
        pa[k].base.realloc = pa_realloc;
        pa[k].base.free = pa_free;
        pa[k].base.ctx = &pa[k];
        memset(&opts, 0, sizeof opts);
        opts.alloc = &pa[k].base;
        MT_EQ_INT(mel_loader_new(&opts, &l), MEL_OK);
        MT_EQ_INT(mel_loader_feed(l, text, n, &err), MEL_OK);
        MT_EQ_INT(mel_loader_finish(l, &g[k], NULL, &err), MEL_OK);
        mel_loader_free(l);
        if (!g[k])
            goto done;
    }
    MT_EQ_INT(mel_graph_compute_parents(g[1], -1), MEL_OK);
    for (k = 0; k < 2; k++) {
        size_t base = pa[k].live;
        pa[k].peak = base;
        MT_EQ_INT(mel_compute_dominators(g[k], NULL, NULL), MEL_OK);
        pa[k].peak -= base;
    }
    for (i = 0; i < mel_graph_count(g[0]); i++) {
        MT_EQ_INT(mel_graph_idom(g[0], i), mel_graph_idom(g[1], i));
        MT_EQ_INT(mel_graph_retained(g[0], i), mel_graph_retained(g[1], i));
    }
    /* the copy of the back and cross edges is not made */
    MT_CHECK(pa[1].peak < pa[0].peak);
done:
    mel_graph_free(g[0]);
    mel_graph_free(g[1]);
}

int main(void)
{
    MT_RUN(test_path_text);
    MT_RUN(test_edge_labels);
    MT_RUN(test_dominators_on_dump);
    MT_RUN(test_cycles_hanging_from_nothing);
    MT_RUN(test_markers_before_unreferenced);
    MT_RUN(test_self_reference_is_a_root);
    MT_RUN(test_path_text_after_collapse);
    MT_RUN(test_stale_or_capped_parents);
    MT_RUN(test_complete_parents_stand_in);
    return MT_END();
}
