/*
 * test_oom.c - allocation-failure injection across the engine.
 *
 * A mel_failing_allocator fails the k-th allocation, for every k from 1 up
 * to the number of allocations a full run makes.  The run is: writer ->
 * bytes; loader (fed in pieces) -> graph; parents, summary, reachability,
 * collapse, dominators, paths, suspects, diff, mutations; load from a
 * gzip file; free.
 * For each k:
 *   - if the k-th allocation was attempted, some call returned MEL_ENOMEM
 *     (no call may swallow the failure and report success);
 *   - no call returns any other error;
 *   - an analysis that failed leaves the graph usable: it is retried with
 *     the allocator healed and the whole run must then produce exactly the
 *     figures of a run without failure;
 *   - once everything is freed no allocation is live (and ASan sees no leak).
 */
#include "mel_internal.h"
#include "mtest.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

/* A small dump with a header, roots, an instance whose __dict__ collapses,
 * a module, a cycle, a dangling ref, a duplicate and one bad line. */
static const char dump_text[] =
    "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], \"python\": "
    "\"3.11.7\", \"pointer_size\": 8, \"roots\": [{\"kind\": \"modules\", \"name\": "
    "\"sys.modules\", \"address\": 100}]}\n"
    "{\"address\": 100, \"type\": \"dict\", \"size\": 232, \"len\": 1, \"refs\": [101, 102]}\n"
    "{\"address\": 101, \"type\": \"str\", \"size\": 52, \"len\": 3, \"value\": \"app\", \"refs\": []}\n"
    "{\"address\": 102, \"type\": \"module\", \"size\": 72, \"name\": \"app\", \"refs\": [103]}\n"
    "{\"address\": 103, \"type\": \"dict\", \"size\": 640, \"len\": 2, \"refs\": [104, 105, 106, 107]}\n"
    "{\"address\": 104, \"type\": \"str\", \"size\": 54, \"len\": 5, \"value\": \"cache\", \"refs\": []}\n"
    "{\"address\": 105, \"type\": \"list\", \"size\": 88, \"len\": 3, \"refs\": [110, 111, 105]}\n"
    "{\"address\": 106, \"type\": \"str\", \"size\": 50, \"len\": 1, \"value\": \"x\", \"refs\": []}\n"
    "{\"address\": 107, \"type\": \"int\", \"size\": 28, \"value\": 7, \"refs\": []}\n"
    "{\"address\": 110, \"type\": \"Foo\", \"size\": 48, \"refs\": [112, 120]}\n"
    "{\"address\": 111, \"type\": \"Foo\", \"size\": 48, \"refs\": [113, 120]}\n"
    "{\"address\": 112, \"type\": \"dict\", \"size\": 104, \"len\": 1, \"refs\": [106, 107]}\n"
    "{\"address\": 113, \"type\": \"dict\", \"size\": 104, \"len\": 1, \"refs\": [106, 999]}\n"
    "{\"address\": 120, \"type\": \"type\", \"size\": 1752, \"name\": \"Foo\", \"qualname\": "
    "\"app.Foo\", \"refs\": [121]}\n"
    "{\"address\": 121, \"type\": \"tuple\", \"size\": 56, \"len\": 1, \"refs\": [120]}\n"
    "{\"address\": 130, \"type\": \"str\", \"size\": 60, \"len\": 9, \"value\": \"\\ud83d\\ude00 \\u00e9t\\u00e9\", \"refs\": []}\n"
    "{\"address\": 107, \"type\": \"int\", \"size\": 28, \"value\": 7, \"refs\": []}\n"
    "{\"address\": 131, \"type\": \n"
    "{\"address\": 132, \"type\": \"bool\", \"size\": 28, \"value\": \"True\", \"refs\": []}\n"
    "{\"meliae\": \"end\", \"objects\": 18, \"complete\": true}\n";

/* Figures of one run; two runs that did the same work have equal digests. */
typedef struct digest {
    uint64_t count, missing, live, bad, dup, collapsed, summary_total, summary_size;
    uint64_t reach_n, total_size, retained_sum, path_len, label_len, added;
    uint64_t live_after_collapse, parents_of_start, suspects, diff_kept, path_text_len;
} digest;

/* What happened in one run. */
typedef struct outcome {
    int enomem;       /* some call returned MEL_ENOMEM */
    int other_error;  /* some call returned an unexpected code */
    int committed;    /* calls that returned MEL_ENOMEM after doing their work */
    digest d;
} outcome;

/* Runs one step; on ENOMEM heals the allocator and retries once.
 * Returns the final status of the step. */
#define STEP(call)                                                   \
    do {                                                             \
        rc = (call);                                                 \
        if (rc == MEL_ENOMEM) {                                      \
            out->enomem = 1;                                         \
            fa->fail_at = 0;                                         \
            rc = (call);                                             \
        }                                                            \
        if (rc != MEL_OK) {                                          \
            fprintf(stderr, "line %d: %s -> %s\n", __LINE__, #call,  \
                    mel_strerror(rc));                               \
            out->other_error = 1;                                    \
            goto done;                                               \
        }                                                            \
    } while (0)

/* The analyses on a loaded graph, each retried once after an ENOMEM. */
static void run_analyses(mel_graph *g, mel_failing_allocator *fa, outcome *out)
{
    mel_summary *s = NULL;
    uint32_t *reach = NULL, *path = NULL, start, target, t, idx = MEL_NONE, i, kids[2];
    size_t nreach = 0, npath = 0;
    char label[64], *text = NULL;
    mel_suspect_report *sr = NULL;
    mel_diff_report *dr = NULL;
    int rc;

    STEP(mel_graph_compute_parents(g, -1));
    STEP(mel_summarize(g, NULL, 0, NULL, 0, &s));
    out->d.summary_total = s->total_count;
    out->d.summary_size = s->total_size;
    mel_summary_free(s);
    s = NULL;
    start = mel_graph_lookup(g, 102);
    MT_CHECK(start != MEL_NONE);
    if (start == MEL_NONE)
        goto done;
    STEP(mel_reach(g, start, NULL, 0, &reach, &nreach));
    out->d.reach_n = nreach;
    mel_free(reach);
    reach = NULL;
    STEP(mel_total_size(g, start, NULL, 0, &out->d.total_size));
    STEP(mel_summarize(g, &start, 1, NULL, 0, &s));
    mel_summary_free(s);
    s = NULL;
    /* Collapse is all or nothing: after ENOMEM no dict is folded (same
     * live count) and the retry folds them all. */
    {
        uint64_t first = 0, second = 0;
        uint32_t live_before = mel_graph_live(g);
        rc = mel_collapse_instance_dicts(g, &first, NULL, NULL);
        if (rc == MEL_ENOMEM) {
            out->enomem = 1;
            if (first != 0 || mel_graph_live(g) != live_before)
                out->committed++;
            MT_CHECK(first == 0 && mel_graph_live(g) == live_before);
            fa->fail_at = 0;
            rc = mel_collapse_instance_dicts(g, &second, NULL, NULL);
        }
        if (rc != MEL_OK) {
            out->other_error = 1;
            goto done;
        }
        out->d.collapsed = first + second;
        out->d.live_after_collapse = mel_graph_live(g);
    }
    STEP(mel_graph_compute_parents(g, 2));
    STEP(mel_compute_dominators(g, NULL, NULL));
    for (i = 0; i < mel_graph_count(g); i++)
        if (!(mel_graph_flags(g, i) & MEL_NODE_DELETED))
            out->d.retained_sum += mel_graph_retained(g, i);
    target = mel_graph_lookup(g, 107);
    MT_CHECK(target != MEL_NONE);
    if (target == MEL_NONE)
        goto done;
    STEP(mel_path_to(g, target, &path, &npath));
    out->d.path_len = npath;
    for (i = 0; i + 1 < npath; i++)
        out->d.label_len += mel_edge_label(g, path[i], path[i + 1], label, sizeof label);
    STEP(mel_path_format(g, path, npath, &text));
    out->d.path_text_len = strlen(text);
    mel_free(text);
    text = NULL;
    mel_free(path);
    path = NULL;
    STEP(mel_suspects(g, 0.10, 0, &sr));
    out->d.suspects = sr->n;
    mel_suspect_report_free(sr);
    sr = NULL;
    STEP(mel_diff(g, g, &dr));
    out->d.diff_kept = dr->kept_count;
    mel_diff_report_free(dr);
    dr = NULL;

    t = mel_graph_type_intern(g, "<ex-reference>", 14);
    if (t == MEL_NONE) {
        /* The one entry point without a status: MEL_NONE means ENOMEM. */
        out->enomem = 1;
        fa->fail_at = 0;
        t = mel_graph_type_intern(g, "<ex-reference>", 14);
        MT_CHECK(t != MEL_NONE);
    }
    /* mel_graph_add is all or nothing: after ENOMEM the record is absent
     * and a retry adds it. */
    rc = mel_graph_add(g, 5000, t, 0, &idx);
    if (rc == MEL_ENOMEM) {
        out->enomem = 1;
        fa->fail_at = 0;
        if (mel_graph_lookup(g, 5000) != MEL_NONE)
            out->committed++;
        MT_CHECK(mel_graph_lookup(g, 5000) == MEL_NONE);
        rc = mel_graph_add(g, 5000, t, 0, &idx);
    }
    if (rc != MEL_OK) {
        out->other_error = 1;
        goto done;
    }
    if (!mel_graph_has_parents(g))
        STEP(mel_graph_compute_parents(g, 2));
    kids[0] = start;
    kids[1] = target;
    STEP(mel_graph_set_children(g, idx, kids, 2));
    STEP(mel_graph_set_value_text(g, idx, "null", 4));
    STEP(mel_compute_dominators(g, NULL, NULL));
    out->d.added = mel_graph_retained(g, idx);
    {
        uint32_t np = 0;
        (void)mel_graph_parents(g, start, &np);
        out->d.parents_of_start = np;
    }
done:
    mel_free(reach);
    mel_free(path);
    mel_free(text);
    mel_suspect_report_free(sr);
    mel_diff_report_free(dr);
    mel_summary_free(s);
}

/* Loads the dump fed in three pieces, then runs the analyses. */
static void run_memory(mel_failing_allocator *fa, outcome *out)
{
    mel_load_options opts;
    mel_loader *l = NULL;
    mel_graph *g = NULL;
    mel_load_report rep;
    mel_error err;
    size_t n = sizeof dump_text - 1, cut1 = n / 3, cut2 = 2 * n / 3 + 7;
    int rc;

    memset(&opts, 0, sizeof opts);
    memset(&rep, 0, sizeof rep);
    opts.alloc = &fa->base;
    opts.source_name = "oom-dump";
    rc = mel_loader_new(&opts, &l);
    if (rc == MEL_OK)
        rc = mel_loader_feed(l, dump_text, cut1, &err);
    if (rc == MEL_OK)
        rc = mel_loader_feed(l, dump_text + cut1, cut2 - cut1, &err);
    if (rc == MEL_OK)
        rc = mel_loader_feed(l, dump_text + cut2, n - cut2, &err);
    if (rc == MEL_OK)
        rc = mel_loader_finish(l, &g, &rep, &err);
    mel_loader_free(l);
    if (rc == MEL_ENOMEM) {
        out->enomem = 1;
        MT_CHECK(g == NULL);
        return;
    }
    if (rc != MEL_OK) {
        fprintf(stderr, "load -> %s\n", mel_strerror(rc));
        out->other_error = 1;
        return;
    }
    out->d.count = mel_graph_count(g);
    out->d.missing = mel_graph_missing(g);
    out->d.live = mel_graph_live(g);
    out->d.bad = rep.bad_lines;
    out->d.dup = rep.duplicates;
    run_analyses(g, fa, out);
    mel_graph_free(g);
}

/* Writes the dump text gzip-compressed to a temporary file; returns 0 on success. */
static int write_gz(char *path)
{
    int fd = mkstemp(path);
    gzFile z;

    if (fd < 0)
        return -1;
    z = gzdopen(fd, "wb");
    if (!z) {
        close(fd);
        return -1;
    }
    if (gzwrite(z, dump_text, (unsigned)(sizeof dump_text - 1)) <= 0) {
        gzclose(z);
        return -1;
    }
    return gzclose(z) == Z_OK ? 0 : -1;
}

/* Loads the gzip file through mel_load_path. */
static void run_path(const char *path, mel_failing_allocator *fa, outcome *out)
{
    mel_load_options opts;
    mel_graph *g = NULL;
    mel_load_report rep;
    mel_error err;
    int rc;

    memset(&opts, 0, sizeof opts);
    opts.alloc = &fa->base;
    rc = mel_load_path(path, &opts, &g, &rep, &err);
    if (rc == MEL_ENOMEM) {
        out->enomem = 1;
        MT_CHECK(g == NULL);
        return;
    }
    if (rc != MEL_OK) {
        out->other_error = 1;
        return;
    }
    out->d.count = mel_graph_count(g);
    out->d.live = mel_graph_live(g);
    mel_graph_free(g);
}

/* Sink that keeps the byte count only. */
static int count_sink(void *ctx, const void *buf, size_t len)
{
    (void)buf;
    *(size_t *)ctx += len;
    return 0;
}

/* Writes a header and a few objects with a 70 KB value. */
static void run_writer(mel_failing_allocator *fa, outcome *out)
{
    static uint8_t big[70000];
    mel_writer_options wo;
    mel_writer *w = NULL;
    mel_dump_header h;
    mel_object o;
    uint64_t refs[3] = {1, 2, 3};
    size_t bytes = 0;
    int rc, i;

    memset(big, 'q', sizeof big);
    memset(&wo, 0, sizeof wo);
    wo.buffer_size = 4096;
    wo.value_limit = SIZE_MAX;
    rc = mel_writer_new(&fa->base, count_sink, &bytes, &wo, &w);
    if (rc == MEL_ENOMEM) {
        out->enomem = 1;
        MT_CHECK(w == NULL);
        return;
    }
    MT_EQ_INT(rc, MEL_OK);
    memset(&h, 0, sizeof h);
    h.python_version = "3.11.7";
    rc = mel_writer_header(w, &h);
    for (i = 0; rc == MEL_OK && i < 4; i++) {
        memset(&o, 0, sizeof o);
        o.address = 10 + (uint64_t)i;
        o.type_name = "bytes";
        o.size = 100;
        o.len = (int64_t)sizeof big;
        o.value_kind = MEL_VALUE_TEXT;
        o.value.data = big;
        o.value.len = sizeof big;
        o.value.kind = MEL_TEXT_BYTES;
        o.refs = refs;
        o.nrefs = 3;
        rc = mel_writer_object(w, &o);
    }
    if (rc == MEL_OK)
        rc = mel_writer_trailer(w);
    if (rc == MEL_ENOMEM)
        out->enomem = 1;
    else if (rc != MEL_OK)
        out->other_error = 1;
    else
        out->d.count = bytes;
    mel_writer_free(w);
}

/* Runs scenario for k = 1, 2, ... until a run makes fewer than k
 * allocations, checking the rules in the file comment for each k. */
static void sweep(const char *name, void (*run)(mel_failing_allocator *, outcome *, const void *),
                  const void *arg)
{
    mel_failing_allocator fa;
    outcome base, o;
    uint64_t k, total, committed;

    memset(&base, 0, sizeof base);
    mel_failing_allocator_init(&fa, 0);
    run(&fa, &base, arg);
    MT_CHECK(!base.enomem && !base.other_error);
    MT_EQ_INT(fa.live, 0);
    total = fa.count;
    MT_CHECK(total > 0);
    committed = 0;
    for (k = 1; k <= total + 1; k++) {
        memset(&o, 0, sizeof o);
        mel_failing_allocator_init(&fa, k);
        run(&fa, &o, arg);
        if (fa.live != 0 || o.other_error || (k <= total && !o.enomem))
            fprintf(stderr, "  %s: k=%llu live=%lld enomem=%d other=%d\n", name,
                    (unsigned long long)k, (long long)fa.live, o.enomem, o.other_error);
        MT_EQ_INT(fa.live, 0);
        MT_CHECK(!o.other_error);
        if (k <= total)
            MT_CHECK(o.enomem);
        else
            MT_CHECK(!o.enomem);
        /* A failure inside an analysis was retried: the figures must match.
         * A failure while loading or writing leaves nothing to compare. */
        committed += (uint64_t)o.committed;
        if (o.d.count != 0 && memcmp(&o.d, &base.d, sizeof o.d) != 0) {
            const uint64_t *a = (const uint64_t *)&o.d, *b = (const uint64_t *)&base.d;
            size_t f;
            for (f = 0; f < sizeof o.d / sizeof *a; f++)
                if (a[f] != b[f])
                    fprintf(stderr, "  %s: k=%llu: digest field %zu is %llu, want %llu\n",
                            name, (unsigned long long)k, f, (unsigned long long)a[f],
                            (unsigned long long)b[f]);
            MT_CHECK(0);
        }
    }
    fprintf(stderr, "  %s: %llu allocations, each failed in turn; %llu calls returned "
            "ENOMEM after finishing their change\n", name, (unsigned long long)total,
            (unsigned long long)committed);
}

static void run_memory_cb(mel_failing_allocator *fa, outcome *out, const void *arg)
{
    (void)arg;
    run_memory(fa, out);
}

static void run_path_cb(mel_failing_allocator *fa, outcome *out, const void *arg)
{
    run_path(arg, fa, out);
}

static void run_writer_cb(mel_failing_allocator *fa, outcome *out, const void *arg)
{
    (void)arg;
    run_writer(fa, out);
}

static void test_oom_load_and_analyses(void)
{
    sweep("load+analyses", run_memory_cb, NULL);
}

static void test_oom_load_gzip_path(void)
{
    char path[] = "/tmp/meliae-oom-XXXXXX";
    MT_CHECK(write_gz(path) == 0);
    sweep("gzip path", run_path_cb, path);
    unlink(path);
}

static void test_oom_writer(void)
{
    sweep("writer", run_writer_cb, NULL);
}

int main(void)
{
    MT_RUN(test_oom_writer);
    MT_RUN(test_oom_load_and_analyses);
    MT_RUN(test_oom_load_gzip_path);
    return MT_END();
}
