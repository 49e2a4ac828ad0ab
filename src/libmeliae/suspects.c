/*
 * suspects.c - leak suspects from the dominator tree: single objects that
 * retain a large share of the heap, and groups of same-type objects that
 * together retain a large share under one common dominator.
 */
#include "analysis_internal.h"
#include "graph_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct items {
    mel_suspect *v;
    size_t n, cap;
} items;

static int push(items *it, const mel_suspect *s)
{
    if (it->n == it->cap) {
        size_t ncap = it->cap ? it->cap * 2 : 16;
        mel_suspect *p = realloc(it->v, ncap * sizeof *p);
        if (!p)
            return MEL_ENOMEM;
        it->v = p;
        it->cap = ncap;
    }
    it->v[it->n++] = *s;
    return MEL_OK;
}

/* A group held only by the super-root: objects rooted each on its own (all
 * the module dicts, all the classes), not an accumulation point. */
static int rootless_group(const mel_suspect *s)
{
    return s->kind == MEL_SUSPECT_GROUP && s->node == MEL_NONE;
}

/* Suspects with a holder first, then groups held only by the roots; each
 * part by retained size, largest first. */
static int by_retained(const void *a, const void *b)
{
    const mel_suspect *x = a, *y = b;

    if (rootless_group(x) != rootless_group(y))
        return rootless_group(x) ? 1 : -1;
    if (x->retained != y->retained)
        return x->retained > y->retained ? -1 : 1;
    if (x->kind != y->kind)
        return x->kind < y->kind ? -1 : 1;
    if (x->node != y->node)
        return x->node < y->node ? -1 : 1;
    return x->type_id < y->type_id ? -1 : x->type_id > y->type_id;
}

/* OBJECT suspects: objects retaining at least thr none of whose dominated
 * objects does (the deepest point of each big retained set). */
static int single_objects(const mel__domtree *t, const uint64_t *ret, const uint32_t *koff,
                          const uint32_t *kid, uint64_t thr, uint64_t total, items *it)
{
    for (uint32_t k = 0; k < t->nlive; k++) {
        uint32_t v = t->order[k], j;
        mel_suspect s;
        int deeper = 0;

        if (ret[v] < thr)
            continue;
        for (j = koff[v]; j < koff[v + 1] && !deeper; j++)
            deeper = ret[kid[j]] >= thr;
        if (deeper)
            continue;
        memset(&s, 0, sizeof s);
        s.kind = MEL_SUSPECT_OBJECT;
        s.node = v;
        s.example = v;
        s.count = 1;
        s.retained = ret[v];
        s.fraction = total ? (double)ret[v] / (double)total : 0.0;
        if (push(it, &s) != MEL_OK)
            return MEL_ENOMEM;
    }
    return MEL_OK;
}

/* GROUP suspects: for every dominator d, its dominated objects of one type
 * (two or more) retaining at least thr together, unless the group is one
 * big member plus small change: when the largest member retains thr on its
 * own and the others together do not, that member (or an object below it)
 * is an OBJECT suspect already, and "2 dict objects" would only repeat it
 * under a vaguer name. */
static int groups(const struct mel_graph *g, const mel__domtree *t, const uint64_t *ret,
                  const uint32_t *koff, const uint32_t *kid, uint64_t thr, uint64_t total,
                  items *it)
{
    uint32_t nt = g->ntypes, d, j, ntouched;
    uint64_t *sum = calloc(nt ? nt : 1, sizeof *sum), *cnt = calloc(nt ? nt : 1, sizeof *cnt);
    uint32_t *best = calloc(nt ? nt : 1, sizeof *best);
    uint32_t *touched = calloc(nt ? nt : 1, sizeof *touched);
    int rc = MEL_ENOMEM;

    if (!sum || !cnt || !best || !touched)
        goto done;
    for (d = 0; d <= t->n; d++) {
        if (koff[d + 1] - koff[d] < 2)
            continue;
        ntouched = 0;
        for (j = koff[d]; j < koff[d + 1]; j++) {
            uint32_t c = kid[j], ty = g->type[c];
            if (cnt[ty] == 0) {
                touched[ntouched++] = ty;
                best[ty] = c;
            } else if (ret[c] > ret[best[ty]]) {
                best[ty] = c;
            }
            cnt[ty]++;
            sum[ty] += ret[c];
        }
        for (j = 0; j < ntouched; j++) {
            uint32_t ty = touched[j];
            if (cnt[ty] >= 2 && sum[ty] >= thr &&
                (ret[best[ty]] < thr || sum[ty] - ret[best[ty]] >= thr)) {
                mel_suspect s;
                memset(&s, 0, sizeof s);
                s.kind = MEL_SUSPECT_GROUP;
                s.node = d == t->n ? MEL_NONE : d;
                s.type_id = ty;
                s.count = cnt[ty];
                s.retained = sum[ty];
                s.example = best[ty];
                s.fraction = total ? (double)sum[ty] / (double)total : 0.0;
                if (push(it, &s) != MEL_OK)
                    goto done;
            }
            cnt[ty] = 0;
            sum[ty] = 0;
        }
    }
    rc = MEL_OK;
done:
    free(sum);
    free(cnt);
    free(best);
    free(touched);
    return rc;
}

void mel_suspect_report_free(mel_suspect_report *r)
{
    if (!r)
        return;
    for (size_t k = 0; k < r->n; k++) {
        free(r->items[k].path);
        free(r->items[k].path_text);
    }
    free(r->items);
    free(r);
}

int mel_suspects(mel_graph *g, double min_fraction, size_t max_items, mel_suspect_report **out)
{
    const mel__domtree *t;
    const uint64_t *ret;
    uint32_t *koff = NULL, *kid = NULL;
    mel_suspect_report *r = NULL;
    items it = {NULL, 0, 0};
    uint64_t total, thr;
    int rc;

    if (!g || !out || !(min_fraction > 0.0 && min_fraction <= 1.0))
        return MEL_EINVAL;
    *out = NULL;
    if (!mel_graph_has_dominators(g) && (rc = mel_compute_dominators(g, NULL, NULL)) != MEL_OK)
        return rc;
    if ((rc = mel__graph_domtree(g, &t, &ret)) != MEL_OK)
        return rc;
    total = mel_graph_retained_total(g);
    thr = (uint64_t)(min_fraction * (double)total);
    if ((double)thr < min_fraction * (double)total)
        thr++;
    if (thr == 0)
        thr = 1;
    rc = MEL_ENOMEM;
    r = calloc(1, sizeof *r);
    if (!r)
        goto done;
    r->total = total;
    if ((rc = mel__dom_children(t, g->alloc, &koff, &kid)) != MEL_OK)
        goto done;
    if ((rc = single_objects(t, ret, koff, kid, thr, total, &it)) != MEL_OK)
        goto done;
    if ((rc = groups(g, t, ret, koff, kid, thr, total, &it)) != MEL_OK)
        goto done;
    if (it.n)
        qsort(it.v, it.n, sizeof *it.v, by_retained);
    if (max_items && it.n > max_items)
        it.n = max_items;
    r->items = it.v;
    r->n = it.n;
    it.v = NULL;
    /* paths last: mel_path_to may add its BFS to the graph's results */
    for (size_t k = 0; k < r->n; k++) {
        mel_suspect *s = &r->items[k];
        s->type_id = s->kind == MEL_SUSPECT_OBJECT ? g->type[s->node] : s->type_id;
        if (s->node != MEL_NONE && (rc = mel_path_to(g, s->node, &s->path, &s->path_len)) != MEL_OK)
            goto done;
        if ((rc = mel_path_format(g, s->path, s->path_len, &s->path_text)) != MEL_OK)
            goto done;
    }
    *out = r;
    r = NULL;
    rc = MEL_OK;
done:
    mel__free(g->alloc, koff, ((size_t)mel__nodes(g) + 2) * sizeof *koff);
    mel__free(g->alloc, kid, ((size_t)t->nlive ? t->nlive : 1) * sizeof *kid);
    free(it.v);
    mel_suspect_report_free(r);
    return rc;
}
