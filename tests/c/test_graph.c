/* test_graph.c - the graph store: accessors, the address index against a
 * reference, number parsing against strtoull, mutations (children, values,
 * add with missing-node renumbering, delete), invariants after each step,
 * zstd input when built in, and OOM injection on mutations. */
#define _POSIX_C_SOURCE 200809L
#include "graph_internal.h"
#include "meliae.h"
#include "mtest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#ifdef MEL_HAVE_ZSTD
#include <zstd.h>
#endif

static mel_graph *load_text_alloc(const char *text, size_t len, const mel_allocator *a, int *rc_out)
{
    mel_load_options o;
    mel_loader *l = NULL;
    mel_graph *g = NULL;
    mel_error err;
    int rc;

    memset(&o, 0, sizeof o);
    o.alloc = a;
    rc = mel_loader_new(&o, &l);
    if (!rc)
        rc = mel_loader_feed(l, text, len, &err);
    if (!rc)
        rc = mel_loader_finish(l, &g, NULL, &err);
    mel_loader_free(l);
    if (rc_out)
        *rc_out = rc;
    return g;
}

static mel_graph *load_text(const char *text)
{
    int rc;
    mel_graph *g = load_text_alloc(text, strlen(text), NULL, &rc);
    MT_EQ_INT(rc, MEL_OK);
    return g;
}

static void check_invariants(const mel_graph *g)
{
    mel_error err;
    int rc = mel__graph_check(g, &err);
    if (rc)
        fprintf(stderr, "  invariant: %s\n", err.detail);
    MT_EQ_INT(rc, MEL_OK);
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

/* Many objects with random 64-bit addresses: every lookup finds its node,
 * absent addresses are absent, and children resolve to the right nodes. */
static void test_index_random(void)
{
    enum { N = 20000 };
    uint64_t *addrs = malloc(N * sizeof *addrs), seed = 7;
    char *text = malloc((size_t)N * 120);
    size_t len = 0;
    mel_graph *g;
    uint32_t i, n;

    for (i = 0; i < N; i++) {
        addrs[i] = (lcg(&seed) << 11) ^ lcg(&seed);
        if (addrs[i] == 0)
            addrs[i] = 1;
    }
    for (i = 0; i < N; i++)
        len += (size_t)snprintf(text + len, 120, "{\"address\": %llu, \"type\": \"t\", \"size\": %u, \"refs\": [%llu]}\n",
                                (unsigned long long)addrs[i], i, (unsigned long long)addrs[(i * 7919u) % N]);
    g = load_text(text);
    MT_EQ_INT(mel_graph_count(g), N);
    MT_EQ_INT(mel_graph_missing(g), 0);
    for (i = 0; i < N; i++) {
        const uint32_t *c;
        if (mel_graph_lookup(g, addrs[i]) != i)
            MT_EQ_INT(mel_graph_lookup(g, addrs[i]), i);
        c = mel_graph_children(g, i, &n);
        if (n != 1 || c[0] != (i * 7919u) % N)
            MT_CHECK(n == 1 && c[0] == (i * 7919u) % N);
    }
    for (i = 0; i < 1000; i++) {
        uint64_t a = (lcg(&seed) << 11) ^ lcg(&seed), k;
        int present = 0;
        for (k = 0; k < N; k++)
            present |= addrs[k] == a;
        if (!present)
            MT_EQ_INT(mel_graph_lookup(g, a), MEL_NONE);
    }
    check_invariants(g);
    mel_graph_free(g);
    free(text);
    free(addrs);
}

/* Integers of every length parse exactly like strtoull (or are refused
 * exactly when strtoull overflows). */
static void test_numbers_vs_strtoull(void)
{
    uint64_t seed = 1;
    int it, fails = 0;

    for (it = 0; it < 20000 && fails < 5; it++) {
        char num[32], line[256];
        int nd = 1 + (int)(lcg(&seed) % 21), k, rc;
        unsigned long long want;
        mel_graph *g;

        num[0] = (char)('1' + lcg(&seed) % 9);
        for (k = 1; k < nd; k++)
            num[k] = (char)('0' + lcg(&seed) % 10);
        num[nd] = '\0';
        snprintf(line, sizeof line, "{\"address\": %s, \"type\": \"t\", \"size\": %s, \"refs\": [%s, 5]}\n",
                 num, num, num);
        errno = 0;
        want = strtoull(num, NULL, 10);
        g = load_text_alloc(line, strlen(line), NULL, &rc);
        if (errno == ERANGE) {
            if (rc != MEL_ERANGE)
                fails++;
            MT_EQ_INT(rc, MEL_ERANGE);
            continue;
        }
        if (rc != MEL_OK || mel_graph_address(g, 0) != want || mel_graph_size(g, 0) != want) {
            fails++;
            MT_CHECK(rc == MEL_OK && mel_graph_address(g, 0) == want && mel_graph_size(g, 0) == want);
        } else {
            uint32_t n;
            const uint32_t *c = mel_graph_children(g, 0, &n);
            MT_CHECK(n == 2 && c[0] == 0 && mel_graph_address(g, c[1]) == 5);
        }
        mel_graph_free(g);
    }
}

static const char SMALL[] =
    "{\"address\": 10, \"type\": \"A\", \"size\": 1, \"refs\": [20, 90, 91]}\n"
    "{\"address\": 20, \"type\": \"B\", \"size\": 2, \"refs\": [10, 91]}\n"
    "{\"address\": 30, \"type\": \"C\", \"size\": 3, \"refs\": [90]}\n";

/* Addresses of the children of the node at `address`. */
static const char *kids(const mel_graph *g, uint64_t address)
{
    static char buf[256];
    uint32_t n = 0, k;
    const uint32_t *c = mel_graph_children(g, mel_graph_lookup_any(g, address), &n);
    size_t len = 0;
    buf[0] = '\0';
    for (k = 0; k < n; k++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "%s%llu", k ? "," : "",
                                (unsigned long long)mel_graph_address(g, c[k]));
    return buf;
}

static void test_mutations(void)
{
    mel_graph *g = load_text(SMALL);
    uint32_t kids2[3], idx, t;
    mel_value v;
    uint64_t total;

    MT_EQ_INT(mel_graph_count(g), 3);
    MT_EQ_INT(mel_graph_missing(g), 2); /* 90, 91 */
    check_invariants(g);
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);

    /* set_children: relocated, then compacted; others unchanged */
    kids2[0] = mel_graph_lookup(g, 30);
    kids2[1] = mel_graph_lookup(g, 10);
    kids2[2] = mel_graph_lookup_any(g, 91);
    MT_EQ_INT(mel_graph_set_children(g, mel_graph_lookup(g, 20), kids2, 3), MEL_OK);
    MT_EQ_STR(kids(g, 20), "30,10,91");
    MT_EQ_STR(kids(g, 10), "20,90,91");
    check_invariants(g);
    MT_EQ_INT(mel_graph_set_children(g, mel_graph_lookup(g, 20), kids2, 1), MEL_OK);
    MT_EQ_STR(kids(g, 20), "30");
    kids2[0] = 999;
    MT_EQ_INT(mel_graph_set_children(g, 0, kids2, 1), MEL_EINVAL);
    MT_EQ_INT(mel_graph_set_children(g, mel_graph_lookup_any(g, 90), NULL, 0), MEL_EINVAL);
    MT_EQ_INT(mel__graph_compact(g), MEL_OK);
    MT_EQ_STR(kids(g, 20), "30");
    MT_EQ_STR(kids(g, 10), "20,90,91");
    check_invariants(g);

    /* values and sizes, including ones beyond 32 bits */
    MT_EQ_INT(mel_graph_set_value_text(g, 0, "h\0i", 3), MEL_OK);
    mel_graph_value(g, 0, &v);
    MT_CHECK(v.kind == MEL_VALUE_TEXT && v.text_len == 3 && memcmp(v.text, "h\0i", 3) == 0);
    MT_EQ_INT(mel_graph_set_value_int(g, 1, -5), MEL_OK);
    mel_graph_value(g, 1, &v);
    MT_CHECK(v.kind == MEL_VALUE_INT && v.i == -5);
    mel_graph_clear_value(g, 1);
    mel_graph_value(g, 1, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_NONE);
    mel_graph_set_size(g, 2, 1ull << 40);
    MT_CHECK(mel_graph_size(g, 2) == 1ull << 40);
    mel_graph_set_size(g, 2, 3);
    MT_EQ_INT(mel_graph_size(g, 2), 3);
    t = mel_graph_type_intern(g, "Renamed", 7);
    MT_CHECK(t != MEL_NONE);
    mel_graph_set_type(g, 2, t);
    MT_EQ_STR(mel_graph_type_name(g, mel_graph_type(g, 2), NULL), "Renamed");
    MT_EQ_INT(mel_graph_type_find(g, "Renamed", 7), t);
    MT_EQ_INT(mel_graph_type_find(g, "Nope", 4), MEL_NONE);

    /* add a record whose address was missing (91): it takes index count(),
     * the other missing node moves, every edge still names the same address */
    MT_EQ_INT(mel_graph_add(g, 10, t, 1, &idx), MEL_EINVAL);
    MT_EQ_INT(mel_graph_add(g, 91, t, 7, &idx), MEL_OK);
    MT_EQ_INT(idx, 3);
    MT_EQ_INT(mel_graph_count(g), 4);
    MT_EQ_INT(mel_graph_missing(g), 1);
    MT_EQ_INT(mel_graph_lookup(g, 91), 3);
    MT_EQ_INT(mel_graph_flags(g, 3), 0);
    MT_EQ_INT(mel_graph_lookup_any(g, 90), 4);
    MT_EQ_INT(mel_graph_flags(g, 4), MEL_NODE_MISSING);
    MT_EQ_STR(kids(g, 10), "20,90,91");
    MT_EQ_STR(kids(g, 30), "90");
    MT_EQ_INT(mel_graph_has_parents(g), 1);
    {
        uint32_t n;
        const uint32_t *p = mel_graph_parents(g, 3, &n);
        MT_CHECK(n == 1 && mel_graph_address(g, p[0]) == 10);
    }
    check_invariants(g);
    /* add a brand new record (the classic <ex-reference> at 0) */
    t = mel_graph_type_intern(g, "<ex-reference>", 14);
    MT_EQ_INT(mel_graph_add(g, 0, t, 0, &idx), MEL_OK);
    MT_EQ_INT(idx, 4);
    MT_EQ_INT(mel_graph_lookup_any(g, 90), 5);
    MT_EQ_STR(kids(g, 30), "90");
    check_invariants(g);

    /* delete: gone from lookups and walks, still addressable */
    MT_EQ_INT(mel_total_size(g, mel_graph_lookup(g, 10), NULL, 0, &total), MEL_OK);
    MT_EQ_INT(total, 1 + 2 + 3 + 7);
    MT_EQ_INT(mel_graph_delete(g, mel_graph_lookup(g, 20)), MEL_OK);
    MT_EQ_INT(mel_graph_lookup(g, 20), MEL_NONE);
    MT_EQ_INT(mel_graph_delete(g, mel_graph_lookup_any(g, 20)), MEL_EINVAL);
    MT_EQ_INT(mel_graph_live(g), 4);
    MT_EQ_INT(mel_total_size(g, mel_graph_lookup(g, 10), NULL, 0, &total), MEL_OK);
    MT_EQ_INT(total, 1 + 7);
    check_invariants(g);
    MT_CHECK(mel_graph_memory(g) > 0);
    mel_graph_free(g);
}

static int analysis_freed;

static void fake_analysis_free(struct mel_graph *g)
{
    analysis_freed++;
    free(g->analysis);
    g->analysis = NULL;
}

static void test_analysis_hook(void)
{
    mel_graph *g = load_text(SMALL);
    uint32_t one = 0;

    g->analysis = malloc(16);
    g->analysis_free = fake_analysis_free;
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);
    MT_EQ_INT(analysis_freed, 0); /* parents do not change the structure */
    MT_EQ_INT(mel_graph_set_children(g, 1, &one, 1), MEL_OK);
    MT_EQ_INT(analysis_freed, 1);
    MT_CHECK(g->analysis == NULL && g->analysis_free == NULL);
    g->analysis = malloc(16);
    g->analysis_free = fake_analysis_free;
    mel_graph_free(g);
    MT_EQ_INT(analysis_freed, 2);
}

static void test_zstd(void)
{
#ifdef MEL_HAVE_ZSTD
    char path[] = "/tmp/mel_test_graph_XXXXXX";
    size_t bound = ZSTD_compressBound(sizeof SMALL), clen;
    void *cbuf = malloc(bound);
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    FILE *f;
    int fd = mkstemp(path);

    MT_EQ_INT(mel_have_zstd(), 1);
    clen = ZSTD_compress(cbuf, bound, SMALL, sizeof SMALL - 1, 3);
    MT_CHECK(!ZSTD_isError(clen));
    f = fdopen(fd, "wb");
    fwrite(cbuf, 1, clen, f);
    fclose(f);
    MT_EQ_INT(mel_load_path(path, NULL, &g, &rep, &err), MEL_OK);
    MT_EQ_INT(mel_graph_count(g), 3);
    MT_EQ_STR(kids(g, 10), "20,90,91");
    mel_graph_free(g);
    /* cut short inside its only block: nothing decodes, the cut is the error */
    f = fopen(path, "wb");
    fwrite(cbuf, 1, clen - 5, f);
    fclose(f);
    MT_EQ_INT(mel_load_path(path, NULL, &g, &rep, &err), MEL_ECOMPRESS);
    MT_EQ_INT(err.code, MEL_ECOMPRESS);
    MT_CHECK(g == NULL);
    remove(path);
    free(cbuf);
#else
    MT_EQ_INT(mel_have_zstd(), 0);
#endif
}

static void test_oom_mutations(void)
{
    uint64_t k;
    int saw_ok = 0;

    for (k = 1; k <= 200 && !saw_ok; k++) {
        mel_failing_allocator fa;
        mel_graph *g;
        uint32_t idx, c[2];
        int rc;

        mel_failing_allocator_init(&fa, 0);
        g = load_text_alloc(SMALL, sizeof SMALL - 1, &fa.base, &rc);
        MT_EQ_INT(rc, MEL_OK);
        fa.fail_at = fa.count + k; /* fail the k-th allocation from here on */
        c[0] = 0;
        c[1] = 2;
        rc = mel_graph_compute_parents(g, 5);
        if (!rc)
            rc = mel_graph_set_children(g, 1, c, 2);
        if (!rc)
            rc = mel_graph_set_value_text(g, 1, "some text", 9);
        if (!rc)
            rc = mel_graph_add(g, 91, mel_graph_type_intern(g, "X", 1), 1ull << 33, &idx);
        if (!rc)
            rc = mel_collapse_instance_dicts(g, NULL, NULL, NULL);
        if (rc == MEL_OK) {
            saw_ok = 1;
            MT_CHECK(mel_graph_size(g, idx) == 1ull << 33);
        } else {
            MT_EQ_INT(rc, MEL_ENOMEM);
        }
        check_invariants(g);
        mel_graph_free(g);
        MT_EQ_INT(fa.live, 0);
    }
    MT_CHECK(saw_ok);
}

/* Parents on a graph big enough for the two-thread build (and a small one
 * for the single-thread order), with repeated children, relocated children
 * and deleted records, under several caps, against a direct reference:
 * walk the sources in order and append each distinct live source to its
 * targets' lists until a list holds cap entries. */
static void check_parents_vs_reference(unsigned nobj, uint64_t seed)
{
    size_t cap = (size_t)nobj * 120 + 64, w = 0;
    char *text = malloc(cap);
    static const int64_t caps[] = {-1, 0, 1, 3, 100};
    uint32_t nn, i, k, *cnt = NULL, *last = NULL, **lists = NULL, ci;
    mel_graph *g;
    uint64_t x = seed;

    MT_CHECK(text != NULL);
    if (!text)
        return;
    for (i = 0; i < nobj; i++) {
        unsigned nr = (unsigned)(lcg(&x) % 9), r;
        w += (size_t)snprintf(text + w, cap - w, "{\"address\": %u, \"type\": \"T\", \"size\": 1, \"refs\": [",
                              i + 1);
        for (r = 0; r < nr; r++) {
            uint64_t v = lcg(&x);
            /* hot targets, near ones, repeats and a few dangling */
            uint64_t t = v % 5 == 0 ? 1 + v % 7 : (v % 97 == 0 ? nobj + 10 + v % 3 : 1 + v % nobj);
            w += (size_t)snprintf(text + w, cap - w, r ? ", %llu" : "%llu", (unsigned long long)t);
        }
        w += (size_t)snprintf(text + w, cap - w, "]}\n");
    }
    g = load_text_alloc(text, w, NULL, NULL);
    free(text);
    MT_CHECK(g != NULL);
    if (!g)
        return;
    /* relocate a few children lists and delete a few records */
    for (i = 0; i < 5; i++) {
        uint32_t kids2[3];
        kids2[0] = (uint32_t)(lcg(&x) % mel_graph_count(g));
        kids2[1] = kids2[0];
        kids2[2] = (uint32_t)(lcg(&x) % mel_graph_count(g));
        MT_EQ_INT(mel_graph_set_children(g, (uint32_t)(lcg(&x) % mel_graph_count(g)), kids2, 3), MEL_OK);
        (void)mel_graph_delete(g, (uint32_t)(lcg(&x) % 7)); /* EINVAL if already deleted */
    }
    MT_CHECK(mel_graph_live(g) < mel_graph_count(g));
    nn = mel_graph_count(g) + mel_graph_missing(g);
    cnt = calloc(nn, sizeof *cnt);
    last = malloc(nn * sizeof *last);
    lists = calloc(nn, sizeof *lists);
    for (ci = 0; ci < sizeof caps / sizeof *caps; ci++) {
        int64_t c = caps[ci];
        uint32_t bad = 0;
        for (i = 0; i < nn; i++) {
            cnt[i] = 0;
            last[i] = MEL_NONE;
            free(lists[i]);
            lists[i] = NULL;
        }
        for (i = 0; i < mel_graph_count(g); i++) {
            uint32_t n;
            const uint32_t *ch;
            if (mel_graph_flags(g, i) & MEL_NODE_DELETED)
                continue;
            ch = mel_graph_children(g, i, &n);
            for (k = 0; k < n; k++) {
                uint32_t t = ch[k];
                if ((mel_graph_flags(g, t) & MEL_NODE_DELETED) || last[t] == i ||
                    (c >= 0 && cnt[t] >= (uint64_t)c))
                    continue;
                last[t] = i;
                lists[t] = realloc(lists[t], (cnt[t] + 1) * sizeof **lists);
                lists[t][cnt[t]++] = i;
            }
        }
        MT_EQ_INT(mel_graph_compute_parents(g, c), MEL_OK);
        for (i = 0; i < nn; i++) {
            uint32_t n;
            const uint32_t *p = mel_graph_parents(g, i, &n);
            if (n != cnt[i] || (n && memcmp(p, lists[i], n * sizeof *p) != 0))
                bad++;
        }
        if (bad)
            fprintf(stderr, "  %u objects, cap %lld: %u nodes with wrong parents\n", nobj, (long long)c, bad);
        MT_EQ_INT(bad, 0);
        check_invariants(g);
    }
    for (i = 0; i < nn; i++)
        free(lists[i]);
    free(lists);
    free(cnt);
    free(last);
    mel_graph_free(g);
}

static void test_parents_reference(void)
{
    check_parents_vs_reference(300, 7);
    check_parents_vs_reference(80000, 11); /* about 320k edges: two threads */
}

/* Parents of every node as text "addr:p1,p2;..." (addresses, in order). */
static void parents_text(const mel_graph *g, char *buf, size_t cap)
{
    uint32_t i, k, n, nn = mel_graph_count(g) + mel_graph_missing(g);
    size_t w = 0;

    buf[0] = '\0';
    for (i = 0; i < nn && w + 64 < cap; i++) {
        const uint32_t *p = mel_graph_parents(g, i, &n);
        w += (size_t)snprintf(buf + w, cap - w, "%llu:", (unsigned long long)mel_graph_address(g, i));
        for (k = 0; k < n && w + 32 < cap; k++)
            w += (size_t)snprintf(buf + w, cap - w, "%llu,", (unsigned long long)mel_graph_address(g, p[k]));
        w += (size_t)snprintf(buf + w, cap - w, ";");
    }
}

/* mel_graph_add with parents computed: all or nothing under every
 * allocation failure, and the parents it leaves equal a fresh computation. */
static void test_add_keeps_parents(void)
{
    static const char text[] =
        "{\"address\": 10, \"type\": \"A\", \"size\": 1, \"refs\": [20, 90, 91, 92, 91]}\n"
        "{\"address\": 20, \"type\": \"B\", \"size\": 2, \"refs\": [10, 92, 91]}\n"
        "{\"address\": 30, \"type\": \"C\", \"size\": 3, \"refs\": [90, 92, 30]}\n";
    static const uint64_t adds[] = {92, 5, 90};
    size_t a;

    for (a = 0; a < sizeof adds / sizeof *adds; a++) {
        uint64_t k;
        int saw_ok = 0;
        for (k = 1; k <= 50 && !saw_ok; k++) {
            mel_failing_allocator fa;
            char before[1024], after[1024], fresh[1024];
            uint32_t idx = MEL_NONE, count;
            int rc;
            mel_graph *g;

            mel_failing_allocator_init(&fa, 0);
            g = load_text_alloc(text, sizeof text - 1, &fa.base, &rc);
            MT_EQ_INT(rc, MEL_OK);
            if (!g)
                return;
            MT_EQ_INT(mel_graph_compute_parents(g, 2), MEL_OK);
            parents_text(g, before, sizeof before);
            count = mel_graph_count(g);
            fa.fail_at = fa.count + k;
            rc = mel_graph_add(g, adds[a], mel_graph_type(g, 0), 4, &idx);
            fa.fail_at = 0;
            if (rc == MEL_ENOMEM) {
                parents_text(g, after, sizeof after);
                MT_EQ_STR(after, before);
                MT_EQ_INT(mel_graph_count(g), count);
                MT_EQ_INT(mel_graph_lookup(g, adds[a]), MEL_NONE);
            } else {
                MT_EQ_INT(rc, MEL_OK);
                saw_ok = 1;
                MT_EQ_INT(idx, count);
                MT_EQ_INT(mel_graph_lookup(g, adds[a]), idx);
                parents_text(g, after, sizeof after);
                MT_EQ_INT(mel_graph_compute_parents(g, 2), MEL_OK);
                parents_text(g, fresh, sizeof fresh);
                MT_EQ_STR(after, fresh);
            }
            check_invariants(g);
            mel_graph_free(g);
            MT_EQ_INT(fa.live, 0);
        }
        MT_CHECK(saw_ok);
    }
}

/* Collapse with and without parents computed (every cap) against a
 * reference written here: an owner of one of the three shapes absorbs its
 * dict exactly when one edge of a live record or root marker reaches it. */
static void check_collapse_vs_reference(unsigned nobj, uint64_t seed)
{
    static const char *const types[] = {"Foo", "dict", "type", "module", "instance",
                                        "classobj", "list", "str"};
    static const int64_t caps[] = {-2, -1, 0, 1, 2, 3, 100};
    size_t cap = (size_t)nobj * 160 + 4096, w = 0;
    char *text = malloc(cap);
    uint64_t x = seed, nref = 0;
    uint32_t i, k, nn, *ty = NULL, *edges = NULL;
    uint8_t *want = NULL;
    unsigned ci;

    MT_CHECK(text != NULL);
    if (!text)
        return;
    ty = malloc(nobj * sizeof *ty);
    for (i = 0; i < nobj; i++)
        ty[i] = (uint32_t)(lcg(&x) % 8);
    /* root markers at the first 40 dicts (some would fold without them) */
    w += (size_t)snprintf(text + w, cap - w, "{\"meliae\": \"dump\", \"version\": [2, 0], \"roots\": [");
    for (i = 0, k = 0; i < nobj && k < 40; i++)
        if (ty[i] == 1)
            w += (size_t)snprintf(text + w, cap - w, "%s{\"kind\": \"other\", \"address\": %u}",
                                  k++ ? ", " : "", i + 1);
    w += (size_t)snprintf(text + w, cap - w, "]}\n");
    for (i = 0; i < nobj; i++) {
        uint64_t v = lcg(&x);
        uint32_t a = i + 1, d = (uint32_t)(lcg(&x) % nobj), t = (uint32_t)(lcg(&x) % nobj);
        w += (size_t)snprintf(text + w, cap - w, "{\"address\": %u, \"type\": \"%s\", \"size\": %u, "
                              "\"refs\": [", a, types[ty[i]], 10 + i % 50);
        /* the shapes, mostly with the right types, or other refs */
        if (v % 8 != 7 && (ty[i] == 0 || ty[i] == 3 || ty[i] == 4))
            while (ty[d] != 1)
                d = (d + 1) % nobj;
        else if (v % 8 != 7)
            while (ty[d] == 1)
                d = (d + 1) % nobj;
        if (v % 8 < 6)
            while (ty[t] != (ty[i] == 4 ? 5u : 2u))
                t = (t + 1) % nobj;
        if (v % 4 == 0 && ty[i] == 4)
            w += (size_t)snprintf(text + w, cap - w, "%u, %u", t + 1, d + 1);
        else if (v % 4 == 0)
            w += (size_t)snprintf(text + w, cap - w, "%u, %u", d + 1, t + 1);
        else if (v % 4 == 1)
            w += (size_t)snprintf(text + w, cap - w, "%u", d + 1);
        else if (v % 4 == 2)
            w += (size_t)snprintf(text + w, cap - w, "%u, %u, %u", d + 1, t + 1, nobj + 5);
        w += (size_t)snprintf(text + w, cap - w, "]}\n");
    }
    for (ci = 0; ci < sizeof caps / sizeof *caps; ci++) {
        mel_graph *g = load_text_alloc(text, w, NULL, NULL);
        uint32_t t_dict, t_type, t_module, t_instance, t_classobj, bad = 0;
        uint64_t n = 0, expect = 0;
        MT_CHECK(g != NULL);
        if (!g)
            break;
        nn = mel_graph_count(g) + mel_graph_missing(g);
        if (ci == 0) {
            /* reference, on the first graph before collapsing */
            t_dict = mel_graph_type_find(g, "dict", 4);
            t_type = mel_graph_type_find(g, "type", 4);
            t_module = mel_graph_type_find(g, "module", 6);
            t_instance = mel_graph_type_find(g, "instance", 8);
            t_classobj = mel_graph_type_find(g, "classobj", 8);
            edges = calloc(nn, sizeof *edges);
            want = calloc(nn, 1);
            for (i = 0; i < mel_graph_count(g); i++) {
                uint32_t cnt;
                const uint32_t *ch = mel_graph_children(g, i, &cnt);
                for (k = 0; k < cnt; k++)
                    edges[ch[k]]++;
            }
            for (k = 0; k < mel_graph_root_count(g); k++)
                edges[mel_graph_lookup_any(g, mel_graph_root_address(g, k))]++;
            for (i = 0; i < mel_graph_count(g); i++) {
                uint32_t cnt, tp = mel_graph_type(g, i), d = MEL_NONE;
                const uint32_t *ch = mel_graph_children(g, i, &cnt);
                if (tp != t_module && tp != t_instance && tp != mel_graph_type_find(g, "Foo", 3))
                    continue;
                if (tp == t_module && cnt == 1 && mel_graph_type(g, ch[0]) == t_dict)
                    d = ch[0];
                else if (cnt == 2 && mel_graph_type(g, ch[0]) == t_dict &&
                         mel_graph_type(g, ch[1]) == t_type)
                    d = ch[0];
                else if (tp == t_instance && cnt == 2 && mel_graph_type(g, ch[0]) == t_classobj &&
                         mel_graph_type(g, ch[1]) == t_dict)
                    d = ch[1];
                if (d != MEL_NONE && edges[d] == 1) {
                    want[d] = 1;
                    expect++;
                }
            }
            nref = expect;
            MT_CHECK(nref > 0);
        }
        if (caps[ci] >= -1)
            MT_EQ_INT(mel_graph_compute_parents(g, caps[ci]), MEL_OK);
        MT_EQ_INT(mel_collapse_instance_dicts(g, &n, NULL, NULL), MEL_OK);
        if (n != nref)
            fprintf(stderr, "  cap %lld: %llu collapsed, reference %llu\n", (long long)caps[ci],
                    (unsigned long long)n, (unsigned long long)nref);
        MT_EQ_INT(n, nref);
        for (i = 0; i < nn; i++)
            if (!!(mel_graph_flags(g, i) & MEL_NODE_DELETED) != want[i])
                bad++;
        MT_EQ_INT(bad, 0);
        check_invariants(g);
        mel_graph_free(g);
    }
    free(text);
    free(ty);
    free(edges);
    free(want);
}

static void test_collapse_reference(void)
{
    check_collapse_vs_reference(1000, 3);
    check_collapse_vs_reference(20000, 5);
}

int main(void)
{
    MT_RUN(test_index_random);
    MT_RUN(test_numbers_vs_strtoull);
    MT_RUN(test_mutations);
    MT_RUN(test_analysis_hook);
    MT_RUN(test_zstd);
    MT_RUN(test_oom_mutations);
    MT_RUN(test_add_keeps_parents);
    MT_RUN(test_parents_reference);
    MT_RUN(test_collapse_reference);
    return MT_END();
}
