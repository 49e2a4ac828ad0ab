/*
 * diff.c - what changed between two dumps: per type counts and sizes, the
 * objects only in the new dump, and the biggest growers.  An object is the
 * same in both dumps when its address and its display type name are.
 */
#include "analysis_internal.h"
#include "graph_internal.h"

#include <stdlib.h>
#include <string.h>

/* Display names of both graphs, merged: name -> combined index. */
typedef struct names {
    uint32_t *slots;   /* combined index + 1, 0 = empty */
    uint32_t mask;
    const char **str;  /* combined index -> name (borrowed from a graph) */
    size_t *len;
    uint32_t n;
} names;

static uint64_t hash_name(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t k = 0; k < n; k++) {
        h ^= (unsigned char)s[k];
        h *= 1099511628211ull;
    }
    return h;
}

static uint32_t names_add(names *t, const char *s, size_t n)
{
    uint64_t h = hash_name(s, n);
    uint32_t i = (uint32_t)h & t->mask;

    for (;;) {
        uint32_t c = t->slots[i];
        if (c == 0) {
            t->slots[i] = t->n + 1;
            t->str[t->n] = s;
            t->len[t->n] = n;
            return t->n++;
        }
        if (t->len[c - 1] == n && memcmp(t->str[c - 1], s, n) == 0)
            return c - 1;
        i = (i + 1) & t->mask;
    }
}

/* Maps every type id of g to a combined index. */
static void map_types(const struct mel_graph *g, names *t, uint32_t *map)
{
    for (uint32_t ty = 0; ty < g->ntypes; ty++) {
        size_t n;
        const char *s = mel_graph_type_name(g, ty, &n);
        map[ty] = names_add(t, s ? s : "", s ? n : 0);
    }
}

static int live_record(const struct mel_graph *g, uint32_t i)
{
    return i < g->n && !(g->flags[i] & MEL_NODE_DELETED);
}

typedef struct sized {
    uint64_t size;
    uint32_t node;
} sized;

static int by_size_desc(const void *a, const void *b)
{
    const sized *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    return x->node < y->node ? -1 : x->node > y->node;
}

static int by_growth(const void *a, const void *b)
{
    const mel_diff_type *x = a, *y = b;
    if (x->size_delta != y->size_delta)
        return x->size_delta > y->size_delta ? -1 : 1;
    if (x->count_delta != y->count_delta)
        return x->count_delta > y->count_delta ? -1 : 1;
    return strcmp(x->name, y->name);
}

void mel_diff_report_free(mel_diff_report *r)
{
    if (!r)
        return;
    for (size_t k = 0; k < r->ntypes; k++)
        free((char *)r->types[k].name);
    free(r->types);
    free(r->added);
    free(r);
}

int mel_diff(const mel_graph *old_g, const mel_graph *new_g, mel_diff_report **out)
{
    names t;
    uint32_t *omap = NULL, *nmap = NULL, cap = 16, i;
    sized *added = NULL;
    mel_diff_report *r = NULL;
    size_t nadded = 0;
    uint64_t kept_old_size = 0;
    int rc = MEL_ENOMEM;

    if (!old_g || !new_g || !out)
        return MEL_EINVAL;
    *out = NULL;
    memset(&t, 0, sizeof t);
    while (cap < 2 * ((uint64_t)old_g->ntypes + new_g->ntypes) && cap < (1u << 31))
        cap *= 2;
    t.mask = cap - 1;
    t.slots = calloc(cap, sizeof *t.slots);
    t.str = calloc((size_t)old_g->ntypes + new_g->ntypes + 1, sizeof *t.str);
    t.len = calloc((size_t)old_g->ntypes + new_g->ntypes + 1, sizeof *t.len);
    omap = calloc(old_g->ntypes ? old_g->ntypes : 1, sizeof *omap);
    nmap = calloc(new_g->ntypes ? new_g->ntypes : 1, sizeof *nmap);
    r = calloc(1, sizeof *r);
    added = calloc(new_g->n ? new_g->n : 1, sizeof *added);
    if (!t.slots || !t.str || !t.len || !omap || !nmap || !r || !added)
        goto done;
    map_types(old_g, &t, omap);
    map_types(new_g, &t, nmap);
    r->types = calloc(t.n ? t.n : 1, sizeof *r->types);
    if (!r->types)
        goto done;
    for (i = 0; i < t.n; i++) {
        char *s = malloc(t.len[i] + 1);
        if (!s)
            goto done;
        memcpy(s, t.str[i], t.len[i]);
        s[t.len[i]] = '\0';
        r->types[i].name = s;
        r->ntypes = i + 1;
    }
    for (i = 0; i < old_g->n; i++) {
        mel_diff_type *d;
        uint64_t sz;
        if (!live_record(old_g, i))
            continue;
        sz = mel_graph_size(old_g, i);
        d = &r->types[omap[old_g->type[i]]];
        d->old_count++;
        d->old_size += sz;
        r->old_count++;
        r->old_size += sz;
    }
    for (i = 0; i < new_g->n; i++) {
        mel_diff_type *d;
        uint64_t sz;
        uint32_t j;
        if (!live_record(new_g, i))
            continue;
        sz = mel_graph_size(new_g, i);
        d = &r->types[nmap[new_g->type[i]]];
        d->new_count++;
        d->new_size += sz;
        r->new_count++;
        r->new_size += sz;
        j = mel_graph_lookup(old_g, new_g->addr[i]);
        if (j != MEL_NONE && live_record(old_g, j) && omap[old_g->type[j]] == nmap[new_g->type[i]]) {
            r->kept_count++;
            kept_old_size += mel_graph_size(old_g, j);
            continue;
        }
        d->added_count++;
        d->added_size += sz;
        added[nadded].size = sz;
        added[nadded].node = i;
        nadded++;
    }
    r->gone_count = r->old_count - r->kept_count;
    r->gone_size = r->old_size - kept_old_size;
    for (i = 0; i < r->ntypes; i++) {
        mel_diff_type *d = &r->types[i];
        d->count_delta = (int64_t)(d->new_count - d->old_count);
        d->size_delta = (int64_t)(d->new_size - d->old_size);
    }
    if (r->ntypes)
        qsort(r->types, r->ntypes, sizeof *r->types, by_growth);
    if (nadded)
        qsort(added, nadded, sizeof *added, by_size_desc);
    r->added = malloc((nadded ? nadded : 1) * sizeof *r->added);
    if (!r->added)
        goto done;
    for (size_t k = 0; k < nadded; k++)
        r->added[k] = added[k].node;
    r->nadded = nadded;
    *out = r;
    r = NULL;
    rc = MEL_OK;
done:
    free(t.slots);
    free(t.str);
    free(t.len);
    free(omap);
    free(nmap);
    free(added);
    mel_diff_report_free(r);
    return rc;
}
