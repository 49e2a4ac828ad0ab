/* test_analysis_basic.c - parents, collapse, summary, reachability and
 * get_all on the classic Meliae test dumps (tests/data/classic, the data of
 * meliae-compat.md section 5.1), checked against the classic test suite's
 * documented results.  Run from the repository root. */
#include "meliae.h"
#include "mtest.h"

#include <stdlib.h>
#include <string.h>

#define DATA "tests/data/classic/"

static mel_graph *load_file(const char *name)
{
    char path[256];
    mel_graph *g = NULL;
    mel_load_report rep;
    mel_error err;
    int rc;

    snprintf(path, sizeof path, DATA "%s", name);
    rc = mel_load_path(path, NULL, &g, &rep, &err);
    if (rc)
        fprintf(stderr, "  loading %s: %s %s\n", path, err.msg, err.detail);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.bad_lines, 0);
    MT_EQ_INT(rep.classic, 1);
    return g;
}

static mel_graph *load_text(const char *text)
{
    mel_loader *l;
    mel_graph *g = NULL;
    mel_error err;
    int rc = mel_loader_new(NULL, &l);

    MT_EQ_INT(rc, MEL_OK);
    rc = mel_loader_feed(l, text, strlen(text), &err);
    MT_EQ_INT(rc, MEL_OK);
    rc = mel_loader_finish(l, &g, NULL, &err);
    MT_EQ_INT(rc, MEL_OK);
    mel_loader_free(l);
    return g;
}

static uint32_t at(const mel_graph *g, uint64_t address)
{
    return mel_graph_lookup(g, address);
}

/* Addresses of the parents of `address`, sorted ascending, as a string. */
static const char *parents_of(const mel_graph *g, uint64_t address)
{
    static char buf[512];
    uint64_t a[64];
    uint32_t n = 0, k, j;
    const uint32_t *p = mel_graph_parents(g, at(g, address), &n);
    size_t len = 0;

    for (k = 0; k < n && k < 64; k++)
        a[k] = mel_graph_address(g, p[k]);
    for (k = 1; k < n && k < 64; k++)
        for (j = k; j > 0 && a[j - 1] > a[j]; j--) {
            uint64_t t = a[j];
            a[j] = a[j - 1];
            a[j - 1] = t;
        }
    buf[0] = '\0';
    for (k = 0; k < n && k < 64; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%llu", k ? "," : "",
                                (unsigned long long)a[k]);
    return buf;
}

/* Addresses of the children, in order. */
static const char *children_of(const mel_graph *g, uint64_t address)
{
    static char buf[512];
    uint32_t n = 0, k;
    const uint32_t *c = mel_graph_children(g, at(g, address), &n);
    size_t len = 0;

    buf[0] = '\0';
    for (k = 0; k < n; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%llu", k ? "," : "",
                                (unsigned long long)mel_graph_address(g, c[k]));
    return buf;
}

static const char *type_of(const mel_graph *g, uint64_t address)
{
    return mel_graph_type_name(g, mel_graph_type(g, at(g, address)), NULL);
}

static void test_example_parents(void)
{
    mel_graph *g = load_file("example.json");
    uint64_t n = 99;

    if (!g)
        return;
    MT_EQ_INT(mel_graph_has_parents(g), 0);
    MT_EQ_INT(mel_graph_compute_parents(g, 100), MEL_OK);
    MT_EQ_INT(mel_graph_has_parents(g), 1);
    /* classic compute_parents on the uncollapsed dump */
    MT_EQ_STR(parents_of(g, 1), "");
    MT_EQ_STR(parents_of(g, 3), "1,3");
    MT_EQ_STR(parents_of(g, 4), "2,3,7");
    MT_EQ_STR(parents_of(g, 5), "2,3,7");
    MT_EQ_STR(parents_of(g, 6), "2");
    MT_EQ_STR(parents_of(g, 7), "2");
    MT_EQ_STR(parents_of(g, 2), "1,8");
    MT_EQ_STR(parents_of(g, 8), "");
    /* dict@2 is referenced by tuple@1 and module@8: the single-owner check
     * keeps it (classic Meliae folded it and left tuple@1 dangling) */
    MT_EQ_INT(mel_collapse_instance_dicts(g, &n, NULL, NULL), MEL_OK);
    MT_EQ_INT(n, 0);
    MT_EQ_STR(children_of(g, 8), "2");
    MT_EQ_INT(mel_graph_live(g), 8);
    mel_graph_free(g);
}

static void test_example_sizes_and_summary(void)
{
    mel_graph *g = load_file("example.json");
    uint64_t total = 0;
    uint32_t ex[2], start;
    mel_summary *s = NULL;
    size_t k;
    int seen_dict = 0, seen_int = 0;

    if (!g)
        return;
    start = at(g, 8);
    /* 257 = 60 + 124 (the module and its dict) + 12 + 12 + 29 + 20 */
    MT_EQ_INT(mel_total_size(g, start, NULL, 0, &total), MEL_OK);
    MT_EQ_INT(total, 257);
    ex[0] = at(g, 4);
    ex[1] = at(g, 5);
    MT_EQ_INT(mel_summarize(g, &start, 1, ex, 2, &s), MEL_OK);
    MT_EQ_INT(s->total_size, 233);
    MT_EQ_INT(s->total_count, 4);
    for (k = 0; k < s->ntypes; k++) {
        const char *name = mel_graph_type_name(g, s->types[k].type_id, NULL);
        if (strcmp(name, "int") == 0)
            seen_int = 1;
        if (strcmp(name, "dict") == 0)
            seen_dict = 1;
    }
    MT_EQ_INT(s->ntypes, 4); /* dict, module, str, tuple */
    MT_CHECK(seen_dict && !seen_int);
    mel_summary_free(s);

    /* the whole dump: 8 objects, 321 bytes */
    MT_EQ_INT(mel_summarize(g, NULL, 0, NULL, 0, &s), MEL_OK);
    MT_EQ_INT(s->total_count, 8);
    MT_EQ_INT(s->total_size, 20 + 44 + 12 + 12 + 124 + 20 + 29 + 60);
    MT_EQ_INT(s->ntypes, 6);
    for (k = 0; k < s->ntypes; k++) {
        const mel_type_summary *t = &s->types[k];
        const char *name = mel_graph_type_name(g, t->type_id, NULL);
        if (strcmp(name, "tuple") == 0) {
            MT_EQ_INT(t->count, 2);
            MT_EQ_INT(t->total_size, 40);
            MT_CHECK(t->sq_sum == 800.0);
            MT_EQ_INT(t->max_size, 20);
            MT_EQ_INT(mel_graph_address(g, t->max_index), 1); /* first of the largest */
        } else if (strcmp(name, "dict") == 0) {
            MT_EQ_INT(t->count, 1);
            MT_EQ_INT(t->max_size, 124);
        }
    }
    mel_summary_free(s);
    mel_graph_free(g);

    /* a dangling ref contributes nothing: total 16 */
    g = load_text("{\"address\": 8, \"type\": \"tuple\", \"size\": 16, \"len\": 1, \"refs\": [999]}\n");
    MT_EQ_INT(mel_total_size(g, 0, NULL, 0, &total), MEL_OK);
    MT_EQ_INT(total, 16);
    mel_graph_free(g);

    /* the chain 2 -> 1 -> 0: 5901, or 5801 without 0 */
    g = load_text("{\"address\": 0, \"type\": \"foo\", \"size\": 100, \"refs\": []}\n"
                  "{\"address\": 1, \"type\": \"foo\", \"size\": 1234, \"refs\": [0]}\n"
                  "{\"address\": 2, \"type\": \"foo\", \"size\": 4567, \"refs\": [1]}\n");
    ex[0] = at(g, 0);
    MT_EQ_INT(mel_total_size(g, at(g, 2), NULL, 0, &total), MEL_OK);
    MT_EQ_INT(total, 5901);
    MT_EQ_INT(mel_total_size(g, at(g, 2), ex, 1, &total), MEL_OK);
    MT_EQ_INT(total, 5801);
    mel_graph_free(g);
}

static void test_instance_collapse(void)
{
    mel_graph *g = load_file("instance.json");
    uint64_t n = 0;

    if (!g)
        return;
    MT_EQ_INT(mel_graph_size(g, at(g, 1)), 32);
    MT_EQ_STR(children_of(g, 1), "2,3");
    MT_EQ_INT(mel_graph_compute_parents(g, 100), MEL_OK);
    MT_EQ_STR(parents_of(g, 12), "2");
    MT_EQ_STR(parents_of(g, 2), "1");
    MT_EQ_STR(parents_of(g, 15), "14");
    MT_EQ_INT(mel_collapse_instance_dicts(g, &n, NULL, NULL), MEL_OK);
    MT_EQ_INT(n, 2);
    MT_EQ_STR(children_of(g, 1), "4,5,6,7,9,10,11,12,3");
    MT_EQ_INT(mel_graph_size(g, at(g, 1)), 172);
    MT_EQ_INT(at(g, 2), MEL_NONE);
    MT_EQ_INT(at(g, 15), MEL_NONE);
    MT_EQ_INT(mel_graph_flags(g, mel_graph_lookup_any(g, 2)), MEL_NODE_DELETED);
    MT_EQ_INT(mel_graph_live(g), 13);
    MT_EQ_INT(mel_graph_count(g), 15);
    MT_EQ_STR(children_of(g, 14), "5,6,9,6");
    MT_EQ_INT(mel_graph_size(g, at(g, 14)), 28 + 140);
    /* the owners start with their dicts' key/value pairs */
    MT_EQ_INT(mel_graph_kv_pairs(g, at(g, 1)), 4);
    MT_EQ_INT(mel_graph_kv_pairs(g, at(g, 14)), 2);
    {
        char buf[32];
        MT_EQ_INT(mel_edge_label(g, at(g, 1), at(g, 12), buf, sizeof buf), 2);
        MT_EQ_STR(buf, ".d");
        MT_EQ_INT(mel_edge_label(g, at(g, 1), at(g, 3), buf, sizeof buf), 2);
        MT_EQ_STR(buf, "->"); /* the type, after the pairs */
    }
    /* parents were recomputed */
    MT_EQ_INT(mel_graph_has_parents(g), 1);
    MT_EQ_STR(parents_of(g, 12), "1");
    MT_EQ_STR(parents_of(g, 6), "1,7,14");
    /* the deleted dicts are skipped by walks */
    {
        uint32_t *r = NULL;
        size_t nr = 0, k;
        MT_EQ_INT(mel_reach(g, at(g, 1), NULL, 0, &r, &nr), MEL_OK);
        MT_EQ_INT(nr, 12);
        for (k = 0; k < nr; k++)
            MT_CHECK(!(mel_graph_flags(g, r[k]) & MEL_NODE_DELETED));
        mel_free(r);
    }
    mel_graph_free(g);
}

static void test_old_instance_collapse(void)
{
    mel_graph *g = load_file("old_instance.json");
    uint64_t n = 0;

    if (!g)
        return;
    MT_EQ_STR(type_of(g, 1), "instance");
    MT_EQ_INT(mel_graph_size(g, at(g, 1)), 36);
    MT_EQ_STR(children_of(g, 1), "2,3");
    MT_EQ_INT(mel_collapse_instance_dicts(g, &n, NULL, NULL), MEL_OK);
    MT_EQ_INT(n, 1);
    MT_EQ_INT(at(g, 3), MEL_NONE);
    MT_EQ_INT(mel_graph_size(g, at(g, 1)), 176);
    MT_EQ_STR(children_of(g, 1), "4,5,6,7,2");
    MT_EQ_STR(type_of(g, 1), "OldStyle");
    MT_EQ_INT(mel_graph_kv_pairs(g, at(g, 1)), 2);
    MT_EQ_INT(mel_graph_has_parents(g), 0); /* not computed before: not now */
    mel_graph_free(g);
}

static void test_single_owner_check(void)
{
    /* the dict of 1 is also held by 5: no fold.  The dict of 10 is a root. */
    mel_graph *g = load_text(
        "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], \"roots\": [{\"kind\": \"sys\", \"address\": 11}]}\n"
        "{\"address\": 1, \"type\": \"A\", \"size\": 10, \"refs\": [2, 3]}\n"
        "{\"address\": 2, \"type\": \"dict\", \"size\": 100, \"refs\": [4]}\n"
        "{\"address\": 3, \"type\": \"type\", \"size\": 400, \"name\": \"A\"}\n"
        "{\"address\": 4, \"type\": \"str\", \"size\": 30}\n"
        "{\"address\": 5, \"type\": \"list\", \"size\": 40, \"refs\": [2]}\n"
        "{\"address\": 10, \"type\": \"module\", \"size\": 60, \"refs\": [11]}\n"
        "{\"address\": 11, \"type\": \"dict\", \"size\": 100, \"refs\": [4]}\n"
        "{\"address\": 20, \"type\": \"B\", \"size\": 10, \"refs\": [21, 3]}\n"
        "{\"address\": 21, \"type\": \"dict\", \"size\": 100, \"refs\": [4]}\n"
        "{\"address\": 30, \"type\": \"tuple\", \"size\": 10, \"refs\": [31, 3]}\n"
        "{\"address\": 31, \"type\": \"dict\", \"size\": 100, \"refs\": []}\n"
        "{\"address\": 40, \"type\": \"C\", \"size\": 10, \"refs\": [99, 3]}\n");
    uint64_t n = 0;

    MT_EQ_INT(mel_collapse_instance_dicts(g, &n, NULL, NULL), MEL_OK);
    MT_EQ_INT(n, 1); /* only 20 absorbs its dict; tuples are never owners */
    MT_EQ_STR(children_of(g, 1), "2,3");
    MT_EQ_STR(children_of(g, 10), "11");
    MT_EQ_STR(children_of(g, 20), "4,3");
    MT_EQ_INT(mel_graph_size(g, at(g, 20)), 110);
    MT_EQ_STR(children_of(g, 30), "31,3");
    MT_EQ_STR(children_of(g, 40), "99,3");
    mel_graph_free(g);
}

static void test_intern_dict_parents(void)
{
    mel_graph *g = load_file("intern_dict.json");

    if (!g)
        return;
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);
    MT_EQ_STR(parents_of(g, 5), "6,7,8");
    MT_EQ_STR(parents_of(g, 6), "7");
    MT_EQ_INT(mel_graph_compute_parents(g, 0), MEL_OK);
    MT_EQ_STR(parents_of(g, 5), "");
    mel_graph_free(g);
}

static void test_many_parents(void)
{
    size_t cap = 64 * 210, len = 0;
    char *text = malloc(cap);
    static const int64_t caps[] = {100, 0, -1, 10, 1, 2, 3, 4, 5, 199, 200, 201};
    static const uint32_t want[] = {100, 0, 200, 10, 1, 2, 3, 4, 5, 199, 200, 200};
    mel_graph *g;
    size_t k;
    int a;

    len += (size_t)snprintf(text + len, cap - len,
                            "{\"address\": 2, \"type\": \"str\", \"size\": 25, \"refs\": []}\n");
    for (a = 0; a < 200; a++)
        len += (size_t)snprintf(text + len, cap - len,
                                "{\"address\": %d, \"type\": \"tuple\", \"size\": 20, \"refs\": [2, 2]}\n",
                                1000 + a);
    g = load_text(text);
    for (k = 0; k < sizeof caps / sizeof *caps; k++) {
        uint32_t n = 0, j;
        const uint32_t *p;
        MT_EQ_INT(mel_graph_compute_parents(g, caps[k]), MEL_OK);
        p = mel_graph_parents(g, at(g, 2), &n);
        MT_EQ_INT(n, want[k]);
        /* the first ones in file order, each once */
        for (j = 0; j < n; j++)
            MT_EQ_INT(mel_graph_address(g, p[j]), 1000 + j);
    }
    mel_graph_free(g);
    free(text);
}

typedef struct reach_case {
    const char *dump;
    uint64_t start;
    uint64_t excluded[4];
    size_t nexcluded;
    const char *want;
} reach_case;

#define BASE                                                                            \
    "{\"address\": 1024, \"type\": \"bar\", \"size\": 200}\n"                           \
    "{\"address\": 0, \"type\": \"foo\", \"size\": 100}\n"                              \
    "{\"address\": 255, \"type\": \"baz\", \"size\": 300}\n"

static void test_reach_orders(void)
{
    static const reach_case cases[] = {
        {BASE, 1024, {0}, 0, "1024"},
        {BASE "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n", 1, {0}, 0, "1,1024"},
        {BASE "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [2]}\n"
              "{\"address\": 2, \"type\": \"t\", \"size\": 1, \"refs\": [3]}\n"
              "{\"address\": 3, \"type\": \"t\", \"size\": 1, \"refs\": [4]}\n"
              "{\"address\": 4, \"type\": \"t\", \"size\": 1, \"refs\": [5]}\n"
              "{\"address\": 5, \"type\": \"t\", \"size\": 1, \"refs\": [6]}\n"
              "{\"address\": 6, \"type\": \"t\", \"size\": 1, \"refs\": []}\n",
         1, {0}, 0, "1,2,3,4,5,6"},
        {BASE "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [1024, 2]}\n"
              "{\"address\": 2, \"type\": \"t\", \"size\": 1, \"refs\": [1]}\n",
         2, {0}, 0, "2,1,1024"},
        {BASE "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n", 1, {1024}, 1, "1"},
        {BASE "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n"
              "{\"address\": 2, \"type\": \"t\", \"size\": 1, \"refs\": [1]}\n",
         2, {1}, 1, "2"},
        {BASE "{\"address\": 3, \"type\": \"t\", \"size\": 1, \"refs\": [1, 2]}\n"
              "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n"
              "{\"address\": 2, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n",
         3, {0}, 0, "3,2,1024,1"},
        {BASE "{\"address\": 3, \"type\": \"t\", \"size\": 1, \"refs\": [1, 2]}\n"
              "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n"
              "{\"address\": 2, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n",
         3, {1}, 1, "3,2,1024"},
        {BASE "{\"address\": 3, \"type\": \"t\", \"size\": 1, \"refs\": [1, 2]}\n"
              "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n"
              "{\"address\": 2, \"type\": \"t\", \"size\": 1, \"refs\": [1024]}\n",
         3, {1, 1024}, 2, "3,2"},
        {BASE "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [1024, 77]}\n", 1, {1}, 1, ""},
        {BASE "{\"address\": 1, \"type\": \"t\", \"size\": 1, \"refs\": [77, 1024, 77]}\n", 1, {0}, 0,
         "1,1024"},
    };
    size_t k;

    for (k = 0; k < sizeof cases / sizeof *cases; k++) {
        mel_graph *g = load_text(cases[k].dump);
        uint32_t ex[4], *r = NULL;
        size_t nr = 0, j, len = 0;
        char got[256];

        for (j = 0; j < cases[k].nexcluded; j++)
            ex[j] = at(g, cases[k].excluded[j]);
        MT_EQ_INT(mel_reach(g, at(g, cases[k].start), ex, cases[k].nexcluded, &r, &nr), MEL_OK);
        got[0] = '\0';
        for (j = 0; j < nr; j++)
            len += (size_t)snprintf(got + len, sizeof got - len, "%s%llu", j ? "," : "",
                                    (unsigned long long)mel_graph_address(g, r[j]));
        MT_EQ_STR(got, cases[k].want);
        mel_free(r);
        mel_graph_free(g);
    }
}

static void test_all_of_type(void)
{
    mel_graph *g = load_file("example.json");
    uint32_t *r = NULL, within[3];
    size_t n = 0;

    if (!g)
        return;
    MT_EQ_INT(mel_graph_all_of_type(g, mel_graph_type_find(g, "int", 3), NULL, 0, &r, &n), MEL_OK);
    MT_EQ_INT(n, 2);
    /* equal size, children and (uncomputed) parents: file order, 5 then 4 */
    MT_EQ_INT(mel_graph_address(g, r[0]), 5);
    MT_EQ_INT(mel_graph_address(g, r[1]), 4);
    mel_free(r);
    mel_graph_free(g);

    g = load_text("{\"address\": 1, \"type\": \"X\", \"size\": 10, \"refs\": []}\n"
                  "{\"address\": 2, \"type\": \"X\", \"size\": 30, \"refs\": []}\n"
                  "{\"address\": 3, \"type\": \"X\", \"size\": 10, \"refs\": [1]}\n"
                  "{\"address\": 4, \"type\": \"Y\", \"size\": 99, \"refs\": [5, 5]}\n"
                  "{\"address\": 5, \"type\": \"X\", \"size\": 10, \"refs\": []}\n");
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);
    MT_EQ_INT(mel_graph_all_of_type(g, mel_graph_type_find(g, "X", 1), NULL, 0, &r, &n), MEL_OK);
    MT_EQ_INT(n, 4);
    /* 2 (size 30), 3 (1 child), then 1 and 5 have 1 parent each: file order */
    MT_EQ_INT(mel_graph_address(g, r[0]), 2);
    MT_EQ_INT(mel_graph_address(g, r[1]), 3);
    MT_EQ_INT(mel_graph_address(g, r[2]), 1);
    MT_EQ_INT(mel_graph_address(g, r[3]), 5);
    mel_free(r);
    within[0] = at(g, 5);
    within[1] = at(g, 4);
    within[2] = at(g, 5);
    MT_EQ_INT(mel_graph_all_of_type(g, mel_graph_type_find(g, "X", 1), within, 3, &r, &n), MEL_OK);
    MT_EQ_INT(n, 1);
    MT_EQ_INT(mel_graph_address(g, r[0]), 5);
    mel_free(r);
    mel_graph_free(g);
}

static int same_shape(const mel_graph *a, const mel_graph *b)
{
    uint32_t i, na, nb, k;
    if (mel_graph_count(a) != mel_graph_count(b))
        return 0;
    for (i = 0; i < mel_graph_count(a); i++) {
        const uint32_t *ca = mel_graph_children(a, i, &na), *cb = mel_graph_children(b, i, &nb);
        if (mel_graph_address(a, i) != mel_graph_address(b, i) || na != nb ||
            mel_graph_size(a, i) != mel_graph_size(b, i))
            return 0;
        for (k = 0; k < na; k++)
            if (mel_graph_address(a, ca[k]) != mel_graph_address(b, cb[k]))
                return 0;
    }
    return 1;
}

static void test_classic_variants(void)
{
    mel_graph *a = load_file("example.json"), *b = load_file("array_form.json");
    mel_graph *c = load_file("instance.json"), *d = load_file("instance.json.gz");
    mel_graph *p2 = load_file("py2_values.json"), *p3 = load_file("py3_values.json");
    mel_value v;
    uint64_t n = 0;

    MT_CHECK(a && b && same_shape(a, b));
    MT_CHECK(c && d && same_shape(c, d));
    if (p2) {
        mel_graph_value(p2, at(p2, 139993814629296ull), &v); /* py2 str: bytes as code points */
        MT_EQ_INT(v.text_len, 14);
        MT_CHECK(memcmp(v.text, "a \"q\" \\ / \0\xc3\xbf\n", 14) == 0);
        mel_graph_value(p2, at(p2, 139993814727920ull), &v);
        MT_CHECK(v.text_len == 14 && memcmp(v.text, "uni \xc2\xb5 \xe2\x82\xac \xef\x98\x80", 14) == 0);
        mel_graph_value(p2, at(p2, 139993820642048ull), &v);
        MT_EQ_INT(v.kind, MEL_VALUE_BOOL);
        MT_EQ_INT(v.i, 0);
        mel_graph_value(p2, at(p2, 139993814740000ull), &v);
        MT_EQ_INT(v.kind, MEL_VALUE_NONE);
        MT_EQ_INT(mel_collapse_instance_dicts(p2, &n, NULL, NULL), MEL_OK);
        MT_EQ_INT(n, 2); /* Foo and the old-style instance; sys's dict is not in the dump */
        MT_EQ_STR(type_of(p2, 139993814700000ull), "Old");
        MT_EQ_STR(children_of(p2, 139993814700000ull), "139993814727920,139993820642016,139993814700100");
        MT_EQ_INT(mel_graph_size(p2, at(p2, 139993814664464ull)), 64 + 280);
    }
    if (p3) {
        mel_graph_value(p3, at(p3, 140471284062256ull), &v);
        MT_EQ_INT(v.text_len, 14);
        MT_CHECK(memcmp(v.text, "a \"q\" \\ / \0\xc3\xbf\n", 14) == 0);
        mel_graph_value(p3, at(p3, 140471282750048ull), &v);
        MT_EQ_INT(v.kind, MEL_VALUE_NONE);
        MT_EQ_STR(children_of(p3, 140471283752000ull), "140471283649136");
        MT_EQ_INT(mel_collapse_instance_dicts(p3, &n, NULL, NULL), MEL_OK);
        MT_EQ_INT(n, 1);
        MT_EQ_STR(children_of(p3, 140471283760000ull), "140471283649136,94000000000000");
        /* a values-only dict: the owner gets no key/value pairs */
        MT_EQ_INT(mel_graph_kv_pairs(p3, at(p3, 140471283760000ull)), 0);
        mel_graph_value(p3, at(p3, 140471283780000ull), &v);
        MT_EQ_INT(v.is_name, 1);
    }
    mel_graph_free(a);
    mel_graph_free(b);
    mel_graph_free(c);
    mel_graph_free(d);
    mel_graph_free(p2);
    mel_graph_free(p3);
}

static void test_oom_pipeline(void)
{
    uint64_t k;
    int saw_ok = 0;

    for (k = 1; k <= 300 && !saw_ok; k++) {
        mel_failing_allocator fa;
        mel_load_options o;
        mel_graph *g = NULL;
        mel_load_report rep;
        mel_error err;
        uint64_t n;
        int rc;

        mel_failing_allocator_init(&fa, k);
        memset(&o, 0, sizeof o);
        o.alloc = &fa.base;
        rc = mel_load_path(DATA "instance.json.gz", &o, &g, &rep, &err);
        if (rc == MEL_OK)
            rc = mel_graph_compute_parents(g, 100);
        if (rc == MEL_OK)
            rc = mel_collapse_instance_dicts(g, &n, NULL, NULL);
        if (rc == MEL_OK) {
            saw_ok = 1;
            MT_EQ_STR(children_of(g, 1), "4,5,6,7,9,10,11,12,3");
            MT_EQ_STR(parents_of(g, 12), "1");
        } else {
            MT_EQ_INT(rc, MEL_ENOMEM);
        }
        mel_graph_free(g);
        MT_EQ_INT(fa.live, 0);
    }
    MT_CHECK(saw_ok);
}

int main(void)
{
    MT_RUN(test_example_parents);
    MT_RUN(test_example_sizes_and_summary);
    MT_RUN(test_instance_collapse);
    MT_RUN(test_old_instance_collapse);
    MT_RUN(test_single_owner_check);
    MT_RUN(test_intern_dict_parents);
    MT_RUN(test_many_parents);
    MT_RUN(test_reach_orders);
    MT_RUN(test_all_of_type);
    MT_RUN(test_classic_variants);
    MT_RUN(test_oom_pipeline);
    return MT_END();
}
