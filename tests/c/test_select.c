/* test_select.c - the classic loader's whole-graph queries: top by size and
 * by retained size, guess_intern_dict and remove_expensive_references. */
#include "meliae.h"
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

/* Children of the record at address, as addresses, written "a,b,c". */
static void children_text(const mel_graph *g, uint64_t address, char *buf, size_t cap)
{
    uint32_t n = 0, k;
    const uint32_t *c = mel_graph_children(g, at(g, address), &n);
    size_t used = 0;

    buf[0] = '\0';
    for (k = 0; k < n && used < cap; k++)
        used += (size_t)snprintf(buf + used, cap - used, "%s%llu", k ? "," : "",
                                 (unsigned long long)mel_graph_address(g, c[k]));
}

/* --- top ----------------------------------------------------------------- */

static const char *const SIZES_DUMP =
    "{\"address\": 1, \"type\": \"A\", \"size\": 50, \"refs\": [2, 3]}\n"
    "{\"address\": 2, \"type\": \"A\", \"size\": 80, \"refs\": [4]}\n"
    "{\"address\": 3, \"type\": \"B\", \"size\": 80, \"refs\": [99]}\n"
    "{\"address\": 4, \"type\": \"B\", \"size\": 10, \"refs\": []}\n"
    "{\"address\": 5, \"type\": \"B\", \"size\": 90, \"refs\": [4]}\n"
    "{\"address\": 6, \"type\": \"C\", \"size\": 80, \"refs\": []}\n";

static void expect_top(const mel_graph *g, int key, size_t n, const uint64_t *want,
                       size_t nwant)
{
    uint32_t *out = NULL;
    size_t got = 0, k;

    MT_EQ_INT(mel_top(g, key, n, &out, &got), MEL_OK);
    MT_EQ_INT(got, nwant);
    for (k = 0; k < got && k < nwant; k++)
        MT_EQ_INT(mel_graph_address(g, out[k]), want[k]);
    mel_free(out);
}

static void test_top_by_size(void)
{
    mel_graph *g = mt_load_dump(SIZES_DUMP);
    static const uint64_t all[] = {5, 2, 3, 6, 1, 4};
    static const uint64_t without_5[] = {2, 3, 6, 1, 4};
    uint32_t *out = NULL;
    size_t n = 7;

    if (!g)
        return;
    /* 80 three times: file order among them; the missing node 99 is no record */
    expect_top(g, MEL_TOP_SIZE, 10, all, 6);
    expect_top(g, MEL_TOP_SIZE, 6, all, 6);
    expect_top(g, MEL_TOP_SIZE, 3, all, 3);
    expect_top(g, MEL_TOP_SIZE, 1, all, 1);
    expect_top(g, MEL_TOP_SIZE, 0, all, 0);
    MT_EQ_INT(mel_graph_delete(g, at(g, 5)), MEL_OK);
    expect_top(g, MEL_TOP_SIZE, 10, without_5, 5);
    expect_top(g, MEL_TOP_SIZE, 2, without_5, 2);
    MT_EQ_INT(mel_top(g, 0, 3, &out, &n), MEL_EINVAL);
    MT_CHECK(out == NULL && n == 0);
    MT_EQ_INT(mel_top(NULL, MEL_TOP_SIZE, 3, &out, &n), MEL_EINVAL);
    MT_EQ_INT(mel_top(g, MEL_TOP_SIZE, 3, NULL, &n), MEL_EINVAL);
    MT_EQ_INT(mel_top(g, MEL_TOP_SIZE, 3, &out, NULL), MEL_EINVAL);
    mel_graph_free(g);
}

static void test_top_by_retained(void)
{
    mel_graph *g = mt_load_dump(SIZES_DUMP);
    /* 1 retains 1+2+3 = 210 (4 is shared with 5), 5 retains 90, 2 and 3
     * retain 80 each, 6 retains 80, 4 is held by 2 and 5: 10. */
    static const uint64_t want[] = {1, 5, 2, 3, 6, 4};
    uint32_t *out = NULL;
    size_t n = 0;

    if (!g)
        return;
    MT_EQ_INT(mel_top(g, MEL_TOP_RETAINED, 3, &out, &n), MEL_EINVAL);
    MT_EQ_INT(mel_compute_dominators(g, NULL, NULL), MEL_OK);
    MT_EQ_INT(mel_graph_retained(g, at(g, 1)), 210);
    expect_top(g, MEL_TOP_RETAINED, 100, want, 6);
    expect_top(g, MEL_TOP_RETAINED, 2, want, 2);
    mel_graph_free(g);
}

/* On a larger graph with many ties, top(n) equals n rounds of picking the
 * best record not picked yet (a quadratic reference). */
static void test_top_against_selection(void)
{
    enum { N = 400, TAKE = 37 };
    char *text = malloc((size_t)N * 96 + 1);
    size_t used = 0, k, got = 0;
    uint32_t *out = NULL, i, best;
    unsigned char picked[N];
    unsigned long long seed = 12345;
    mel_graph *g = NULL;

    if (!text)
        return;
    for (k = 0; k < N; k++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        used += (size_t)sprintf(text + used,
                                "{\"address\": %zu, \"type\": \"T\", \"size\": %llu, "
                                "\"refs\": []}\n",
                                k + 100, (seed >> 33) % 23);
    }
    g = mt_load_dump(text);
    if (!g)
        goto done;
    for (k = 0; k < N; k += 7)
        MT_EQ_INT(mel_graph_delete(g, (uint32_t)k), MEL_OK);
    MT_EQ_INT(mel_top(g, MEL_TOP_SIZE, TAKE, &out, &got), MEL_OK);
    MT_EQ_INT(got, TAKE);
    memset(picked, 0, sizeof picked);
    for (k = 0; k < got; k++) {
        best = MEL_NONE;
        for (i = 0; i < N; i++) {
            if (picked[i] || (mel_graph_flags(g, i) & MEL_NODE_DELETED))
                continue;
            if (best == MEL_NONE || mel_graph_size(g, i) > mel_graph_size(g, best))
                best = i;
        }
        picked[best] = 1;
        MT_EQ_INT(out[k], best);
    }
done:
    mel_free(out);
    mel_graph_free(g);
    free(text);
}

/* --- guess_intern_dict -------------------------------------------------------- */

/* 10: the interned dict; 11: bigger, but a list refers to it; 12: odd;
 * 13: key and value differ; 14: an int pair; 15: a dangling pair;
 * 16: empty; 17: same size as 10, fewer children; 18: a tie with 10 later
 * in the file. */
static const char *const INTERN_DUMP =
    "{\"address\": 1, \"type\": \"str\", \"size\": 50, \"value\": \"a\", \"refs\": []}\n"
    "{\"address\": 2, \"type\": \"str\", \"size\": 50, \"value\": \"b\", \"refs\": []}\n"
    "{\"address\": 3, \"type\": \"int\", \"size\": 28, \"value\": 3, \"refs\": []}\n"
    "{\"address\": 17, \"type\": \"dict\", \"size\": 200, \"refs\": [1, 1]}\n"
    "{\"address\": 10, \"type\": \"dict\", \"size\": 200, \"refs\": [1, 1, 2, 2]}\n"
    "{\"address\": 11, \"type\": \"dict\", \"size\": 900, \"refs\": [1, 1, 2, 2]}\n"
    "{\"address\": 12, \"type\": \"dict\", \"size\": 900, \"refs\": [1, 1, 2]}\n"
    "{\"address\": 13, \"type\": \"dict\", \"size\": 900, \"refs\": [1, 2]}\n"
    "{\"address\": 14, \"type\": \"dict\", \"size\": 900, \"refs\": [3, 3]}\n"
    "{\"address\": 15, \"type\": \"dict\", \"size\": 900, \"refs\": [1, 1, 77, 77]}\n"
    "{\"address\": 16, \"type\": \"dict\", \"size\": 900, \"refs\": []}\n"
    "{\"address\": 18, \"type\": \"dict\", \"size\": 200, \"refs\": [2, 2, 1, 1]}\n"
    "{\"address\": 20, \"type\": \"list\", \"size\": 64, \"refs\": [11]}\n";

static void expect_intern(const mel_graph *g, uint64_t want)
{
    uint32_t d = 0;

    MT_EQ_INT(mel_guess_intern_dict(g, &d), MEL_OK);
    if (want == 0)
        MT_EQ_INT(d, MEL_NONE);
    else
        MT_EQ_INT(d == MEL_NONE ? 0 : mel_graph_address(g, d), want);
}

static void test_guess_intern_dict(void)
{
    mel_graph *g = mt_load_dump(INTERN_DUMP);
    uint32_t d = 0;

    if (!g)
        return;
    /* without parents nothing refers to 11 yet */
    expect_intern(g, 11);
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);
    expect_intern(g, 10);
    MT_EQ_INT(mel_graph_delete(g, at(g, 10)), MEL_OK);
    expect_intern(g, 18);
    MT_EQ_INT(mel_graph_delete(g, at(g, 18)), MEL_OK);
    expect_intern(g, 17);
    /* a deleted str disqualifies the dicts that hold it */
    MT_EQ_INT(mel_graph_delete(g, at(g, 1)), MEL_OK);
    expect_intern(g, 0);
    MT_EQ_INT(mel_guess_intern_dict(NULL, &d), MEL_EINVAL);
    MT_EQ_INT(mel_guess_intern_dict(g, NULL), MEL_EINVAL);
    mel_graph_free(g);
}

static void test_guess_intern_dict_without_types(void)
{
    mel_graph *g = mt_load_dump(
        "{\"address\": 1, \"type\": \"str\", \"size\": 50, \"refs\": []}\n"
        "{\"address\": 2, \"type\": \"list\", \"size\": 50, \"refs\": [1, 1]}\n");

    if (!g)
        return;
    expect_intern(g, 0);
    mel_graph_free(g);
}

/* --- remove_expensive_references ---------------------------------------------- */

/* 1 module, 2 frame, 3 type, 4 function (5 refs), 5 function (2 refs),
 * 6 list of the module, an int and a dangling 99, 7 list of ints only,
 * 8 dict of the type (deleted below), 9 int, 10 tuple of the frame and the
 * type only, 11 a module (deleted below) that the list 12 holds. */
static const char *const EXPENSIVE_DUMP =
    "{\"address\": 1, \"type\": \"module\", \"size\": 72, \"refs\": [9]}\n"
    "{\"address\": 2, \"type\": \"frame\", \"size\": 400, \"refs\": [2, 1, 4]}\n"
    "{\"address\": 3, \"type\": \"type\", \"size\": 900, \"refs\": [1, 4]}\n"
    "{\"address\": 4, \"type\": \"function\", \"size\": 136, \"refs\": [9, 1, 7, 3, 2]}\n"
    "{\"address\": 5, \"type\": \"function\", \"size\": 136, \"refs\": [9, 1]}\n"
    "{\"address\": 6, \"type\": \"list\", \"size\": 80, \"refs\": [1, 9, 99, 1]}\n"
    "{\"address\": 7, \"type\": \"list\", \"size\": 80, \"refs\": [9, 9]}\n"
    "{\"address\": 8, \"type\": \"dict\", \"size\": 200, \"refs\": [3]}\n"
    "{\"address\": 9, \"type\": \"int\", \"size\": 28, \"value\": 9, \"refs\": []}\n"
    "{\"address\": 10, \"type\": \"tuple\", \"size\": 56, \"refs\": [2, 3]}\n"
    "{\"address\": 11, \"type\": \"module\", \"size\": 72, \"refs\": []}\n"
    "{\"address\": 12, \"type\": \"list\", \"size\": 64, \"refs\": [11]}\n";

/* The children a record should have, as written by children_text. */
typedef struct want_children {
    uint64_t address;
    const char *children;
} want_children;

static void expect_children(const mel_graph *g, const want_children *want, size_t n)
{
    char buf[256];
    size_t k;

    for (k = 0; k < n; k++) {
        children_text(g, want[k].address, buf, sizeof buf);
        if (strcmp(buf, want[k].children) != 0)
            fprintf(stderr, "children of %llu:\n", (unsigned long long)want[k].address);
        MT_EQ_STR(buf, want[k].children);
    }
}

static void test_remove_expensive_references(void)
{
    static const want_children after[] = {
        {0, ""},    {1, "9"},         {2, "4,0"}, {3, "4,0"},       {4, "9,3,2,0"},
        {5, "9,0"}, {6, "9,99,0"},    {7, "9,9"}, {10, "0"},        {12, "11"},
    };
    mel_graph *g = mt_load_dump(EXPENSIVE_DUMP);
    uint32_t null_i = 0, t;
    uint64_t changed = 0;
    size_t len = 0;
    const char *name;

    if (!g)
        return;
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);
    MT_EQ_INT(mel_graph_delete(g, at(g, 8)), MEL_OK);
    MT_EQ_INT(mel_graph_delete(g, at(g, 11)), MEL_OK);
    MT_EQ_INT(mel_remove_expensive_references(g, &null_i, &changed), MEL_OK);
    /* rewritten: 2 (self, module), 3 (module), 4, 5, 6 (module twice), 10 */
    MT_EQ_INT(changed, 6);
    MT_EQ_INT(null_i, at(g, 0));
    MT_EQ_INT(mel_graph_size(g, null_i), 0);
    name = mel_graph_type_name(g, mel_graph_type(g, null_i), &len);
    MT_EQ_STR(name, "<ex-reference>");
    /* a deleted module is not expensive (12 keeps it); a deleted record is
     * not rewritten (8, below) */
    expect_children(g, after, sizeof after / sizeof after[0]);
    {
        uint32_t n = 0;
        const uint32_t *c = mel_graph_children(g, mel_graph_lookup_any(g, 8), &n);
        MT_EQ_INT(n, 1);
        MT_EQ_INT(n ? mel_graph_address(g, c[0]) : 0, 3);
    }
    /* parents stay as they were: the module still lists the list 6 */
    {
        uint32_t n = 0, k, found = 0;
        const uint32_t *p = mel_graph_parents(g, at(g, 1), &n);
        for (k = 0; k < n; k++)
            found |= mel_graph_address(g, p[k]) == 6;
        MT_CHECK(found);
    }
    /* a second call finds address 0 taken */
    t = at(g, 0);
    MT_EQ_INT(mel_remove_expensive_references(g, &null_i, &changed), MEL_EINVAL);
    MT_EQ_INT(changed, 0);
    MT_EQ_INT(at(g, 0), t);
    MT_EQ_INT(mel_remove_expensive_references(NULL, &null_i, &changed), MEL_EINVAL);
    MT_EQ_INT(mel_remove_expensive_references(g, &null_i, NULL), MEL_EINVAL);
    mel_graph_free(g);
}

/* Address 0 referenced but not dumped: the null record takes its place,
 * and the references to it now reach the null record. */
static void test_remove_expensive_references_dangling_zero(void)
{
    static const want_children after[] = {{2, "0,55,0"}, {3, "55"}};
    mel_graph *g = mt_load_dump(
        "{\"address\": 1, \"type\": \"module\", \"size\": 72, \"refs\": []}\n"
        "{\"address\": 2, \"type\": \"list\", \"size\": 64, \"refs\": [0, 1, 55]}\n"
        "{\"address\": 3, \"type\": \"list\", \"size\": 64, \"refs\": [55]}\n");
    uint32_t null_i = MEL_NONE, n = 0;
    uint64_t changed = 0;

    if (!g)
        return;
    MT_EQ_INT(mel_graph_missing(g), 2);
    MT_EQ_INT(mel_remove_expensive_references(g, NULL, &changed), MEL_OK);
    MT_EQ_INT(changed, 1);
    null_i = at(g, 0);
    MT_EQ_INT(mel_graph_missing(g), 1);
    expect_children(g, after, sizeof after / sizeof after[0]);
    (void)mel_graph_children(g, null_i, &n);
    MT_EQ_INT(n, 0);
    mel_graph_free(g);
}

/* Every allocation the graph makes may fail: each call either succeeds or
 * returns MEL_ENOMEM, and nothing leaks (ASan checks at exit). */
static void test_remove_expensive_references_oom(void)
{
    mel_failing_allocator fa;
    mel_load_options opts;
    mel_loader *l = NULL;
    mel_graph *g = NULL;
    mel_error err;
    uint64_t k, changed, base;
    int rc, saw_ok = 0, saw_fail = 0;

    for (k = 1; k < 200 && !saw_ok; k++) {
        mel_failing_allocator_init(&fa, 0);
        memset(&opts, 0, sizeof opts);
        opts.alloc = &fa.base;
        opts.strict = 1;
        l = NULL;
        g = NULL;
        if (mel_loader_new(&opts, &l) != MEL_OK ||
            mel_loader_feed(l, EXPENSIVE_DUMP, strlen(EXPENSIVE_DUMP), &err) != MEL_OK ||
            mel_loader_finish(l, &g, NULL, &err) != MEL_OK) {
            MT_CHECK(0);
            mel_loader_free(l);
            mel_graph_free(g);
            return;
        }
        mel_loader_free(l);
        base = fa.count;
        fa.fail_at = base + k;
        rc = mel_remove_expensive_references(g, NULL, &changed);
        MT_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
        if (rc == MEL_OK) {
            saw_ok = 1;
            /* 2, 3, 4, 5, 6, 8, 10 and 12: nothing is deleted here */
            MT_EQ_INT(changed, 8);
        } else {
            saw_fail = 1;
        }
        mel_graph_free(g);
        MT_EQ_INT(fa.live, 0);
    }
    MT_CHECK(saw_ok && saw_fail);
}

int main(void)
{
    MT_RUN(test_top_by_size);
    MT_RUN(test_top_by_retained);
    MT_RUN(test_top_against_selection);
    MT_RUN(test_guess_intern_dict);
    MT_RUN(test_guess_intern_dict_without_types);
    MT_RUN(test_remove_expensive_references);
    MT_RUN(test_remove_expensive_references_dangling_zero);
    MT_RUN(test_remove_expensive_references_oom);
    return MT_END();
}
