/*
 * summary.c - the type histogram (count, total and maximum size per type)
 * over all live records or over what some objects reach, and the list of
 * the objects of one type sorted by size (the classic get_all / all()).
 */
#include "graph_internal.h"
#include "reach_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct hist_ctx {
    const struct mel_graph *g;
    mel_type_summary *per; /* [ntypes], indexed by type id */
} hist_ctx;

static void hist_visit(void *vctx, uint32_t i)
{
    hist_ctx *c = vctx;
    mel_type_summary *t = &c->per[c->g->type[i]];
    uint64_t sz = mel_graph_size(c->g, i);

    if (t->count == 0 || sz > t->max_size) {
        t->max_size = sz;
        t->max_index = i;
    }
    t->count++;
    t->total_size += sz;
    t->sq_sum += (double)sz * (double)sz;
}

int mel_summarize(const mel_graph *g, const uint32_t *start, size_t nstart,
                  const uint32_t *excluded, size_t nexcluded, mel_summary **out)
{
    hist_ctx c;
    mel_summary *s = NULL;
    uint64_t *retained = NULL;
    size_t nret = 0, used = 0;
    uint32_t t, i;
    int rc = MEL_OK;

    if (!g || !out || (!start && nstart) || (!excluded && nexcluded))
        return MEL_EINVAL;
    *out = NULL;
    c.g = g;
    c.per = calloc(g->ntypes ? g->ntypes : 1, sizeof *c.per);
    s = calloc(1, sizeof *s);
    if (!c.per || !s) {
        rc = MEL_ENOMEM;
        goto done;
    }
    if (start) {
        rc = mel__reach_walk(g, start, nstart, excluded, nexcluded, hist_visit, &c);
        if (rc)
            goto done;
    } else {
        for (i = 0; i < g->n; i++)
            if (mel__live(g, i))
                hist_visit(&c, i);
        if (mel_graph_has_dominators(g)) {
            rc = mel_retained_by_type(g, &retained, &nret);
            if (rc)
                goto done;
        }
    }
    for (t = 0; t < g->ntypes; t++) {
        if (!c.per[t].count)
            continue;
        c.per[t].type_id = t;
        if (retained && t < nret)
            c.per[t].retained = retained[t];
        s->total_count += c.per[t].count;
        s->total_size += c.per[t].total_size;
        c.per[used++] = c.per[t];
    }
    s->ntypes = used;
    s->types = c.per;
    c.per = NULL;
    *out = s;
    s = NULL;
done:
    free(retained);
    free(c.per);
    free(s);
    return rc;
}

void mel_summary_free(mel_summary *s)
{
    if (!s)
        return;
    free(s->types);
    free(s);
}

typedef struct sortrec {
    uint64_t size;
    uint32_t nchildren, nparents, index;
} sortrec;

static int cmp_sortrec(const void *a, const void *b)
{
    const sortrec *x = a, *y = b;
    if (x->size != y->size)
        return x->size > y->size ? -1 : 1;
    if (x->nchildren != y->nchildren)
        return x->nchildren > y->nchildren ? -1 : 1;
    if (x->nparents != y->nparents)
        return x->nparents > y->nparents ? -1 : 1;
    return x->index < y->index ? -1 : (x->index > y->index);
}

static void fill_rec(const struct mel_graph *g, uint32_t i, sortrec *r)
{
    uint32_t np = 0;
    r->size = mel_graph_size(g, i);
    mel__children(g, i, &r->nchildren);
    mel_graph_parents(g, i, &np);
    r->nparents = np;
    r->index = i;
}

int mel_graph_all_of_type(const mel_graph *g, uint32_t type_id, const uint32_t *within,
                          size_t nwithin, uint32_t **out, size_t *n)
{
    sortrec *recs = NULL;
    uint8_t *seen = NULL;
    size_t cnt = 0, k, cap;
    uint32_t *res = NULL, i, nn;
    int rc = MEL_ENOMEM;

    if (!g || !out || !n || (!within && nwithin))
        return MEL_EINVAL;
    *out = NULL;
    *n = 0;
    nn = mel__nodes(g);
    cap = within ? nwithin : g->n;
    recs = malloc((cap ? cap : 1) * sizeof *recs);
    if (!recs)
        goto done;
    if (within) {
        seen = calloc(((size_t)nn + 8) / 8, 1);
        if (!seen)
            goto done;
        for (k = 0; k < nwithin; k++) {
            i = within[k];
            if (i >= nn || !mel__live(g, i) || g->type[i] != type_id ||
                (seen[i >> 3] & (1u << (i & 7))))
                continue;
            seen[i >> 3] |= (uint8_t)(1u << (i & 7));
            fill_rec(g, i, &recs[cnt++]);
        }
    } else {
        for (i = 0; i < g->n; i++)
            if (g->type[i] == type_id && mel__live(g, i))
                fill_rec(g, i, &recs[cnt++]);
    }
    qsort(recs, cnt, sizeof *recs, cmp_sortrec);
    res = malloc((cnt ? cnt : 1) * sizeof *res);
    if (!res)
        goto done;
    for (k = 0; k < cnt; k++)
        res[k] = recs[k].index;
    *out = res;
    *n = cnt;
    rc = MEL_OK;
done:
    free(recs);
    free(seen);
    return rc;
}
