/*
 * fuzz_reader.c - fuzz target: arbitrary bytes through the whole engine.
 *
 * The input is a dump file, exactly as it would sit on disk.  It is loaded
 * four ways and the results must agree:
 *   A  non-strict, fed in one chunk;
 *   B  non-strict, fed in small chunks whose size comes from the input's hash
 *      (chunking must never change the outcome);
 *   C  strict, with a small maximum line length (if C succeeds, A must too,
 *      without a bad line);
 *   D  through mel_load_fd on an in-memory file (gzip and zstd detection).
 * The graph of A (or of D for compressed input) then goes through every
 * analysis, a few mutations and the analyses again, and is freed.  Broken
 * invariants abort(); crashes, leaks and undefined behaviour are reported by
 * the sanitizers.  See docs/internals.md, "How meliae is tested".
 */
#define _GNU_SOURCE 1
#include "fuzz_targets.h"

#include "meliae.h"

#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* Above this many nodes the quadratic cross-checks are skipped. */
#define FZ_CHECK_LIMIT 4096u

/* One load: its status, error, report and graph (owned, may be NULL). */
typedef struct fz_load {
    int rc;
    mel_error err;
    mel_load_report report;
    mel_graph *g;
} fz_load;

/* FNV-1a over the input; picks chunk sizes and targets deterministically. */
static uint32_t fz_hash(const uint8_t *d, size_t n)
{
    uint32_t h = 2166136261u;
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= d[i];
        h *= 16777619u;
    }
    return h;
}

/* Loads data through mel_loader_feed in pieces of chunk bytes (0 = all). */
static void fz_load_mem(const uint8_t *data, size_t size, const mel_load_options *opts,
                        size_t chunk, fz_load *out)
{
    mel_loader *l = NULL;
    size_t off = 0;

    memset(out, 0, sizeof *out);
    out->rc = mel_loader_new(opts, &l);
    if (out->rc != MEL_OK) {
        MEL_FUZZ_CHECK(l == NULL);
        return;
    }
    if (chunk == 0)
        chunk = size ? size : 1;
    while (off < size) {
        size_t n = size - off < chunk ? size - off : chunk;
        out->rc = mel_loader_feed(l, data + off, n, &out->err);
        if (out->rc != MEL_OK)
            break;
        off += n;
    }
    if (out->rc == MEL_OK)
        out->rc = mel_loader_finish(l, &out->g, &out->report, &out->err);
    MEL_FUZZ_CHECK(out->rc == MEL_OK || out->g == NULL);
    MEL_FUZZ_CHECK(out->rc <= 0);
    mel_loader_free(l);
}

/* Loads data through mel_load_fd on a memfd; skipped (rc = 1) if none. */
static void fz_load_fd(const uint8_t *data, size_t size, fz_load *out)
{
    mel_load_options opts;
    int fd;
    size_t off = 0;

    memset(out, 0, sizeof *out);
    memset(&opts, 0, sizeof opts);
    opts.source_name = "fuzz-input";
    out->rc = 1;
    fd = memfd_create("meliae-fuzz", 0);
    if (fd < 0)
        return;
    while (off < size) {
        ssize_t w = write(fd, data + off, size - off);
        if (w <= 0) {
            close(fd);
            return;
        }
        off += (size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return;
    }
    out->rc = mel_load_fd(fd, &opts, &out->g, &out->report, &out->err);
    MEL_FUZZ_CHECK(out->rc == MEL_OK || out->g == NULL);
    close(fd);
}

/* Two loads of the same bytes must agree on everything observable. */
static void fz_same_outcome(const fz_load *a, const fz_load *b)
{
    MEL_FUZZ_CHECK(a->rc == b->rc);
    if (a->rc != MEL_OK) {
        MEL_FUZZ_CHECK(a->err.code == b->err.code);
        MEL_FUZZ_CHECK(a->err.line == b->err.line);
        MEL_FUZZ_CHECK(a->err.column == b->err.column);
        return;
    }
    MEL_FUZZ_CHECK(mel_graph_count(a->g) == mel_graph_count(b->g));
    MEL_FUZZ_CHECK(mel_graph_missing(a->g) == mel_graph_missing(b->g));
    MEL_FUZZ_CHECK(a->report.lines == b->report.lines);
    MEL_FUZZ_CHECK(a->report.objects == b->report.objects);
    MEL_FUZZ_CHECK(a->report.bad_lines == b->report.bad_lines);
    MEL_FUZZ_CHECK(a->report.duplicates == b->report.duplicates);
    MEL_FUZZ_CHECK(a->report.dangling_refs == b->report.dangling_refs);
    MEL_FUZZ_CHECK(a->report.has_header == b->report.has_header);
    MEL_FUZZ_CHECK(a->report.has_trailer == b->report.has_trailer);
    MEL_FUZZ_CHECK(a->report.first_bad.line == b->report.first_bad.line);
    MEL_FUZZ_CHECK(a->report.first_bad.column == b->report.first_bad.column);
}

/* Accessors on every node: indexes in range, lookups consistent. */
static void fz_check_nodes(const mel_graph *g)
{
    uint32_t n = mel_graph_count(g), total = n + mel_graph_missing(g);
    uint32_t i, k, ntypes = mel_graph_type_count(g), live = 0;

    MEL_FUZZ_CHECK(total >= n);
    for (i = 0; i < total; i++) {
        unsigned flags = mel_graph_flags(g, i);
        uint32_t nch = 0, t = mel_graph_type(g, i);
        const uint32_t *ch = mel_graph_children(g, i, &nch);
        size_t len = 0;
        const char *tn;
        mel_value v;

        MEL_FUZZ_CHECK(t < ntypes);
        tn = mel_graph_type_name(g, t, &len);
        MEL_FUZZ_CHECK(tn != NULL);
        MEL_FUZZ_CHECK(nch == 0 || ch != NULL);
        for (k = 0; k < nch; k++)
            MEL_FUZZ_CHECK(ch[k] < total);
        (void)mel_graph_kv_pairs(g, i);
        memset(&v, 0, sizeof v);
        mel_graph_value(g, i, &v);
        if (v.kind == MEL_VALUE_TEXT && v.text_len > 0) {
            volatile char first, last;
            MEL_FUZZ_CHECK(v.text != NULL);
            first = v.text[0];
            last = v.text[v.text_len - 1];
            (void)first;
            (void)last;
        }
        (void)mel_graph_size(g, i);
        (void)mel_graph_len(g, i);
        if (i >= n) {
            MEL_FUZZ_CHECK(flags & MEL_NODE_MISSING);
            continue;
        }
        MEL_FUZZ_CHECK(!(flags & MEL_NODE_MISSING));
        if (!(flags & MEL_NODE_DELETED)) {
            live++;
            MEL_FUZZ_CHECK(mel_graph_lookup(g, mel_graph_address(g, i)) == i);
        } else {
            MEL_FUZZ_CHECK(mel_graph_lookup(g, mel_graph_address(g, i)) != i);
        }
    }
    MEL_FUZZ_CHECK(mel_graph_live(g) == live);
    for (k = 0; k < mel_graph_root_count(g); k++) {
        const char *kind = NULL, *name = NULL;
        uint32_t node = MEL_NONE;
        MEL_FUZZ_CHECK(mel_graph_root(g, k, &kind, &name, &node) == MEL_OK);
        MEL_FUZZ_CHECK(node == MEL_NONE || node < total);
    }
}

/* Parents are exactly the de-duplicated reverse of children (uncapped). */
static void fz_check_parents(const mel_graph *g)
{
    uint32_t total = mel_graph_count(g) + mel_graph_missing(g), i, k, j;

    if (total > FZ_CHECK_LIMIT)
        return;
    for (i = 0; i < total; i++) {
        uint32_t nch = 0;
        const uint32_t *ch = mel_graph_children(g, i, &nch);
        if (mel_graph_flags(g, i) & MEL_NODE_DELETED)
            continue;
        for (k = 0; k < nch; k++) {
            uint32_t np = 0, found = 0;
            const uint32_t *p = mel_graph_parents(g, ch[k], &np);
            for (j = 0; j < np; j++) {
                MEL_FUZZ_CHECK(p[j] < total);
                found += p[j] == i;
            }
            MEL_FUZZ_CHECK(found == 1);
        }
    }
}

/* Histogram, reachability and total size agree with each other. */
static void fz_check_summary_reach(const mel_graph *g, uint32_t h)
{
    uint32_t n = mel_graph_count(g), start, excl;
    mel_summary *s = NULL;
    uint32_t *reach = NULL;
    size_t nreach = 0, k;
    uint64_t count = 0, bytes = 0, total = 0, sum = 0;
    int rc;

    rc = mel_summarize(g, NULL, 0, NULL, 0, &s);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc == MEL_OK) {
        MEL_FUZZ_CHECK(s->total_count == mel_graph_live(g));
        for (k = 0; k < s->ntypes; k++) {
            count += s->types[k].count;
            bytes += s->types[k].total_size;
            MEL_FUZZ_CHECK(s->types[k].type_id < mel_graph_type_count(g));
        }
        MEL_FUZZ_CHECK(count == s->total_count);
        MEL_FUZZ_CHECK(bytes == s->total_size);
        mel_summary_free(s);
        s = NULL;
    }
    if (n == 0)
        return;
    start = h % n;
    excl = (h >> 8) % n;
    if (excl == start || (mel_graph_flags(g, start) & MEL_NODE_DELETED))
        return;
    rc = mel_reach(g, start, &excl, 1, &reach, &nreach);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc != MEL_OK)
        return;
    MEL_FUZZ_CHECK(nreach >= 1 && reach[0] == start);
    for (k = 0; k < nreach; k++) {
        MEL_FUZZ_CHECK(reach[k] != excl);
        MEL_FUZZ_CHECK(reach[k] < n);
        sum += mel_graph_size(g, reach[k]);
    }
    mel_free(reach);
    rc = mel_total_size(g, start, &excl, 1, &total);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc == MEL_OK)
        MEL_FUZZ_CHECK(total == sum);
    rc = mel_summarize(g, &start, 1, &excl, 1, &s);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc == MEL_OK) {
        MEL_FUZZ_CHECK(s->total_count == nreach);
        MEL_FUZZ_CHECK(s->total_size == sum);
        mel_summary_free(s);
    }
}

/* Dominators: a tree under the super-root whose retained sizes add up. */
static void fz_check_dominators(mel_graph *g)
{
    uint32_t n = mel_graph_count(g), total = n + mel_graph_missing(g), i;
    int rc, small = 1;

    rc = mel_compute_dominators(g, NULL, NULL);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc != MEL_OK)
        return;
    MEL_FUZZ_CHECK(mel_graph_has_dominators(g));
    for (i = 0; i < n; i++)
        small &= mel_graph_size(g, i) < ((uint64_t)1 << 40);
    for (i = 0; i < n; i++) {
        uint32_t d;
        if (mel_graph_flags(g, i) & MEL_NODE_DELETED)
            continue;
        d = mel_graph_idom(g, i);
        MEL_FUZZ_CHECK(d == MEL_NONE || (d < total && d != i));
        if (small) {
            MEL_FUZZ_CHECK(mel_graph_retained(g, i) >= mel_graph_size(g, i));
            if (d != MEL_NONE)
                MEL_FUZZ_CHECK(mel_graph_retained(g, d) >=
                               mel_graph_retained(g, i) + mel_graph_size(g, d));
        }
    }
}

/* Paths from the roots: each step is an edge, the last node is the target. */
static void fz_check_paths(mel_graph *g, uint32_t h)
{
    uint32_t n = mel_graph_count(g), t, q;
    char small[4], big[512];

    if (n == 0)
        return;
    for (q = 0; q < 4; q++) {
        uint32_t *path = NULL;
        size_t np = 0, k;
        int rc;

        t = (h >> (q * 7)) % n;
        if (mel_graph_flags(g, t) & MEL_NODE_DELETED)
            continue;
        rc = mel_path_to(g, t, &path, &np);
        MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM || rc == MEL_ENOTFOUND);
        if (rc != MEL_OK)
            continue;
        MEL_FUZZ_CHECK(np >= 1 && path[np - 1] == t);
        {
            char *text = NULL;
            rc = mel_path_format(g, path, np, &text);
            MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
            if (rc == MEL_OK)
                MEL_FUZZ_CHECK(text != NULL && strlen(text) > 0);
            mel_free(text);
        }
        for (k = 0; k + 1 < np; k++) {
            uint32_t nch = 0, j, found = 0;
            const uint32_t *ch = mel_graph_children(g, path[k], &nch);
            size_t need, need2;
            for (j = 0; j < nch; j++)
                found |= ch[j] == path[k + 1];
            MEL_FUZZ_CHECK(found);
            need = mel_edge_label(g, path[k], path[k + 1], small, sizeof small);
            MEL_FUZZ_CHECK(memchr(small, '\0', sizeof small) != NULL);
            need2 = mel_edge_label(g, path[k], path[k + 1], big, sizeof big);
            MEL_FUZZ_CHECK(need == need2);
            if (need < sizeof big)
                MEL_FUZZ_CHECK(strlen(big) == need);
        }
        mel_free(path);
    }
}

/* Leak suspects, retained sizes per type, and the diff of a graph with itself. */
static void fz_check_suspects_diff(mel_graph *g)
{
    uint32_t total = mel_graph_count(g) + mel_graph_missing(g);
    mel_suspect_report *r = NULL;
    mel_diff_report *d = NULL;
    uint64_t *per_type = NULL;
    size_t k, ntypes = 0;
    int rc;

    rc = mel_suspects(g, 0.10, 0, &r);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc == MEL_OK) {
        for (k = 0; k < r->n; k++) {
            const mel_suspect *s = &r->items[k];
            MEL_FUZZ_CHECK(s->kind == MEL_SUSPECT_OBJECT || s->kind == MEL_SUSPECT_GROUP);
            MEL_FUZZ_CHECK(s->node == MEL_NONE || s->node < total);
            MEL_FUZZ_CHECK(s->type_id < mel_graph_type_count(g));
            MEL_FUZZ_CHECK(s->path_len == 0 || s->path != NULL);
            MEL_FUZZ_CHECK(s->path_text != NULL);
            /* largest retained first, groups held only by the super-root last */
            if (k > 0) {
                const mel_suspect *prev = &r->items[k - 1];
                int prev_last = prev->kind == MEL_SUSPECT_GROUP && prev->node == MEL_NONE;
                int last = s->kind == MEL_SUSPECT_GROUP && s->node == MEL_NONE;
                MEL_FUZZ_CHECK(prev_last <= last);
                MEL_FUZZ_CHECK(prev_last != last || prev->retained >= s->retained);
            }
        }
        mel_suspect_report_free(r);
    }
    if (mel_graph_has_dominators(g)) {
        rc = mel_retained_by_type(g, &per_type, &ntypes);
        MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
        if (rc == MEL_OK)
            MEL_FUZZ_CHECK(ntypes <= mel_graph_type_count(g));
        mel_free(per_type);
    }
    rc = mel_diff(g, g, &d);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc == MEL_OK) {
        MEL_FUZZ_CHECK(d->nadded == 0 && d->gone_count == 0);
        MEL_FUZZ_CHECK(d->kept_count == mel_graph_live(g));
        MEL_FUZZ_CHECK(d->old_count == d->new_count && d->old_size == d->new_size);
        for (k = 0; k < d->ntypes; k++)
            MEL_FUZZ_CHECK(d->types[k].count_delta == 0 && d->types[k].size_delta == 0);
        mel_diff_report_free(d);
    }
}

/* Mutations the Python proxies make, then the analyses again on the result. */
static void fz_mutate(mel_graph *g, uint32_t h)
{
    uint32_t n = mel_graph_count(g), idx = MEL_NONE, again = MEL_NONE, t;
    uint64_t addr = 0x5eed0000ull + h;
    int rc;

    t = mel_graph_type_intern(g, "<ex-reference>", 14);
    if (t == MEL_NONE)
        return;
    while (mel_graph_lookup(g, addr) != MEL_NONE)
        addr += 16;
    rc = mel_graph_add(g, addr, t, 0, &idx);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc != MEL_OK)
        return;
    MEL_FUZZ_CHECK(mel_graph_lookup(g, addr) == idx);
    MEL_FUZZ_CHECK(mel_graph_add(g, addr, t, 0, &again) == MEL_EINVAL);
    if (n > 0) {
        uint32_t kids[2];
        kids[0] = h % n;
        kids[1] = idx;
        rc = mel_graph_set_children(g, idx, kids, 2);
        MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
        rc = mel_graph_set_value_text(g, idx, "x\0y", 3);
        MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
        rc = mel_graph_delete(g, (h >> 4) % n);
        MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_EINVAL);
    }
    fz_check_nodes(g);
}

/* Everything the engine can do with a loaded graph, in the CLI's order. */
static void fz_exercise(mel_graph *g, uint32_t h)
{
    uint64_t ncollapsed = 0;
    uint32_t live;
    int rc;

    fz_check_nodes(g);
    (void)mel_graph_memory(g);
    rc = mel_graph_compute_parents(g, -1);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc == MEL_OK) {
        MEL_FUZZ_CHECK(mel_graph_has_parents(g));
        fz_check_parents(g);
    }
    fz_check_summary_reach(g, h);
    live = mel_graph_live(g);
    rc = mel_collapse_instance_dicts(g, &ncollapsed, NULL, NULL);
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    if (rc == MEL_OK)
        MEL_FUZZ_CHECK(mel_graph_live(g) + ncollapsed == live);
    fz_check_nodes(g);
    rc = mel_graph_compute_parents(g, 1 + (int64_t)(h % 3));
    MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_ENOMEM);
    fz_check_dominators(g);
    fz_check_paths(g, h);
    fz_check_suspects_diff(g);
    fz_check_summary_reach(g, h >> 3);
    fz_mutate(g, h);
    fz_check_dominators(g);
    fz_check_paths(g, h >> 5);
    fz_check_suspects_diff(g);
}

int mel_fuzz_reader(const uint8_t *data, size_t size)
{
    mel_load_options opts;
    fz_load a, b, c, d;
    uint32_t h = fz_hash(data, size);
    int compressed;

    memset(&opts, 0, sizeof opts);
    opts.source_name = "fuzz-input";
    fz_load_mem(data, size, &opts, 0, &a);
    fz_load_mem(data, size, &opts, 1 + h % 61, &b);
    fz_same_outcome(&a, &b);
    mel_graph_free(b.g);

    opts.strict = 1;
    opts.max_line = 64 + (h >> 6) % 4096;
    fz_load_mem(data, size, &opts, 0, &c);
    if (c.rc == MEL_OK) {
        MEL_FUZZ_CHECK(a.rc == MEL_OK);
        MEL_FUZZ_CHECK(c.report.bad_lines == 0);
        MEL_FUZZ_CHECK(a.report.bad_lines == 0);
        MEL_FUZZ_CHECK(mel_graph_count(a.g) == mel_graph_count(c.g));
    }
    mel_graph_free(c.g);

    compressed = size >= 2 && ((data[0] == 0x1f && data[1] == 0x8b) ||
                               (size >= 4 && data[0] == 0x28 && data[1] == 0xb5 &&
                                data[2] == 0x2f && data[3] == 0xfd));
    fz_load_fd(data, size, &d);
    if (d.rc != 1 && !compressed)
        fz_same_outcome(&a, &d);

    if (a.rc == MEL_OK && !compressed)
        fz_exercise(a.g, h);
    else if (d.rc == MEL_OK)
        fz_exercise(d.g, h);
    mel_graph_free(a.g);
    mel_graph_free(d.g);
    return 0;
}

#ifndef MEL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return mel_fuzz_reader(data, size);
}
#endif
