/*
 * select.c - whole-graph queries of the classic loader: the largest
 * objects (top), the interned-strings dict (guess_intern_dict) and the cut
 * of expensive references (remove_expensive_references).
 *
 * Written against the public graph API only: records are 0..count-1, a
 * record is live unless MEL_NODE_DELETED, missing nodes follow the records.
 */
#include "meliae.h"

#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* top                                                                     */
/* ---------------------------------------------------------------------- */

typedef struct top_entry {
    uint64_t key;
    uint32_t index;
} top_entry;

/* Nonzero if a ranks before b: larger key first, then lower index. */
static int ranks_before(const top_entry *a, const top_entry *b)
{
    if (a->key != b->key)
        return a->key > b->key;
    return a->index < b->index;
}

static int cmp_rank(const void *pa, const void *pb)
{
    const top_entry *a = pa, *b = pb;

    if (ranks_before(a, b))
        return -1;
    return ranks_before(b, a) ? 1 : 0;
}

/* Min-heap on rank: heap[0] is the entry that ranks last. */
static void sift_down(top_entry *heap, size_t n, size_t k)
{
    for (;;) {
        size_t l = 2 * k + 1, r = l + 1, m = k;
        top_entry tmp;

        if (l < n && ranks_before(&heap[m], &heap[l]))
            m = l;
        if (r < n && ranks_before(&heap[m], &heap[r]))
            m = r;
        if (m == k)
            return;
        tmp = heap[k];
        heap[k] = heap[m];
        heap[m] = tmp;
        k = m;
    }
}

static void sift_up(top_entry *heap, size_t k)
{
    while (k > 0) {
        size_t parent = (k - 1) / 2;
        top_entry tmp;

        if (!ranks_before(&heap[parent], &heap[k]))
            return;
        tmp = heap[k];
        heap[k] = heap[parent];
        heap[parent] = tmp;
        k = parent;
    }
}

static uint64_t top_key(const mel_graph *g, int key, uint32_t i)
{
    return key == MEL_TOP_RETAINED ? mel_graph_retained(g, i) : mel_graph_size(g, i);
}

int mel_top(const mel_graph *g, int key, size_t n, uint32_t **out, size_t *nout)
{
    top_entry *heap = NULL, e;
    uint32_t *res = NULL, count, i;
    size_t cap, used = 0, k;
    int rc = MEL_ENOMEM;

    if (!out || !nout)
        return MEL_EINVAL;
    *out = NULL;
    *nout = 0;
    if (!g || (key != MEL_TOP_SIZE && key != MEL_TOP_RETAINED))
        return MEL_EINVAL;
    if (key == MEL_TOP_RETAINED && !mel_graph_has_dominators(g))
        return MEL_EINVAL;
    count = mel_graph_count(g);
    cap = n < (size_t)count ? n : (size_t)count;
    heap = malloc((cap ? cap : 1) * sizeof *heap);
    res = malloc((cap ? cap : 1) * sizeof *res);
    if (!heap || !res)
        goto done;
    for (i = 0; i < count && cap; i++) {
        if (mel_graph_flags(g, i) & MEL_NODE_DELETED)
            continue;
        e.key = top_key(g, key, i);
        e.index = i;
        if (used < cap) {
            heap[used] = e;
            sift_up(heap, used++);
        } else if (ranks_before(&e, &heap[0])) {
            heap[0] = e;
            sift_down(heap, used, 0);
        }
    }
    qsort(heap, used, sizeof *heap, cmp_rank);
    for (k = 0; k < used; k++)
        res[k] = heap[k].index;
    *out = res;
    *nout = used;
    res = NULL;
    rc = MEL_OK;
done:
    free(heap);
    free(res);
    return rc;
}

/* ---------------------------------------------------------------------- */
/* guess_intern_dict                                                       */
/* ---------------------------------------------------------------------- */

/* Nonzero if i is a live record of type t. */
static int is_live_of_type(const mel_graph *g, uint32_t i, uint32_t t)
{
    return i < mel_graph_count(g) && !(mel_graph_flags(g, i) & MEL_NODE_DELETED) &&
           mel_graph_type(g, i) == t;
}

/* The classic test: children come as (key, value) pairs that are one and
 * the same str object, there is at least one pair, and nothing refers to
 * the dict. */
static int looks_interned(const mel_graph *g, uint32_t d, uint32_t t_str)
{
    uint32_t nc = 0, np = 0, k;
    const uint32_t *c = mel_graph_children(g, d, &nc);

    (void)mel_graph_parents(g, d, &np);
    if (nc == 0 || nc % 2 || np)
        return 0;
    for (k = 0; k < nc; k += 2)
        if (c[k] != c[k + 1] || !is_live_of_type(g, c[k], t_str))
            return 0;
    return 1;
}

int mel_guess_intern_dict(const mel_graph *g, uint32_t *out)
{
    uint32_t t_dict, t_str, count, i, best = MEL_NONE, nc, best_nc = 0;
    uint64_t size, best_size = 0;

    if (!g || !out)
        return MEL_EINVAL;
    *out = MEL_NONE;
    t_dict = mel_graph_type_find(g, "dict", 4);
    t_str = mel_graph_type_find(g, "str", 3);
    if (t_dict == MEL_NONE || t_str == MEL_NONE)
        return MEL_OK;
    count = mel_graph_count(g);
    for (i = 0; i < count; i++) {
        if (!is_live_of_type(g, i, t_dict) || !looks_interned(g, i, t_str))
            continue;
        /* get_all order: size, then number of children, descending (the
         * candidates have no parents); the first in file order on ties. */
        size = mel_graph_size(g, i);
        (void)mel_graph_children(g, i, &nc);
        if (best == MEL_NONE || size > best_size || (size == best_size && nc > best_nc)) {
            best = i;
            best_size = size;
            best_nc = nc;
        }
    }
    *out = best;
    return MEL_OK;
}

/* ---------------------------------------------------------------------- */
/* remove_expensive_references                                             */
/* ---------------------------------------------------------------------- */

#define EX_REFERENCE "<ex-reference>"

static int bit_get(const uint8_t *bits, uint32_t i)
{
    return (bits[i >> 3] >> (i & 7)) & 1;
}

/* Marks the live records whose type is named name. */
static void mark_type(const mel_graph *g, const char *name, uint8_t *bits)
{
    uint32_t t = mel_graph_type_find(g, name, strlen(name)), count, i;

    if (t == MEL_NONE)
        return;
    count = mel_graph_count(g);
    for (i = 0; i < count; i++)
        if (is_live_of_type(g, i, t))
            bits[i >> 3] |= (uint8_t)(1u << (i & 7));
}

/* Writes i's new children into buf (room for nc + 1) and returns their
 * number, or UINT32_MAX when i keeps its children. */
static uint32_t cut_children(const mel_graph *g, uint32_t i, uint32_t t_function,
                             const uint8_t *noref, uint32_t null_index, uint32_t *buf)
{
    uint32_t nc = 0, k, m = 0;
    const uint32_t *c = mel_graph_children(g, i, &nc);

    if (t_function != MEL_NONE && mel_graph_type(g, i) == t_function) {
        /* Keep the code object, drop the globals and the module (the
         * classic positions 1 and 2), keep the rest: always rewritten. */
        for (k = 0; k < nc; k++)
            if (k != 1 && k != 2)
                buf[m++] = c[k];
    } else {
        for (k = 0; k < nc; k++)
            if (!bit_get(noref, c[k]))
                buf[m++] = c[k];
        if (m == nc)
            return UINT32_MAX;
    }
    buf[m++] = null_index;
    return m;
}

int mel_remove_expensive_references(mel_graph *g, uint32_t *null_index, uint64_t *changed)
{
    uint32_t t_null, t_function, null_i = MEL_NONE, count, nodes, i, nc, maxc = 0, m;
    uint32_t *buf = NULL;
    uint8_t *noref = NULL;
    uint64_t nchanged = 0;
    int rc;

    if (!g || !changed)
        return MEL_EINVAL;
    *changed = 0;
    if (null_index)
        *null_index = MEL_NONE;
    if (mel_graph_lookup(g, 0) != MEL_NONE)
        return MEL_EINVAL;
    t_null = mel_graph_type_intern(g, EX_REFERENCE, strlen(EX_REFERENCE));
    if (t_null == MEL_NONE)
        return MEL_ENOMEM;
    rc = mel_graph_add(g, 0, t_null, 0, &null_i);
    if (rc != MEL_OK)
        return rc;
    if (null_index)
        *null_index = null_i;
    /* Indexes are stable from here on: adding renumbered the missing nodes. */
    count = mel_graph_count(g);
    nodes = count + mel_graph_missing(g);
    for (i = 0; i < count; i++) {
        (void)mel_graph_children(g, i, &nc);
        if (nc > maxc)
            maxc = nc;
    }
    rc = MEL_ENOMEM;
    noref = calloc(((size_t)nodes + 8) / 8, 1);
    buf = malloc(((size_t)maxc + 1) * sizeof *buf);
    if (!noref || !buf)
        goto done;
    mark_type(g, "module", noref);
    mark_type(g, "frame", noref);
    mark_type(g, "type", noref);
    t_function = mel_graph_type_find(g, "function", 8);
    for (i = 0; i < count; i++) {
        if (i == null_i || (mel_graph_flags(g, i) & MEL_NODE_DELETED))
            continue;
        m = cut_children(g, i, t_function, noref, null_i, buf);
        if (m == UINT32_MAX)
            continue;
        rc = mel_graph_set_children(g, i, buf, m);
        if (rc != MEL_OK)
            goto done;
        nchanged++;
    }
    rc = MEL_OK;
done:
    *changed = nchanged;
    free(noref);
    free(buf);
    return rc;
}
