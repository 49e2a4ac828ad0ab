/*
 * reach.c - reachability in the classic Meliae order and total sizes.
 * The walk uses an explicit LIFO stack: children are pushed in order (so the
 * last child is visited next) and a node is marked when it is pushed.
 * Missing and deleted nodes are neither returned nor walked; excluded nodes
 * are pre-marked.  O(nodes + edges) time, 1 bit per node plus the stack.
 */
#include "graph_internal.h"
#include "reach_internal.h"

#include <stdlib.h>
#include <string.h>

int mel__reach_walk(const struct mel_graph *g, const uint32_t *start, size_t nstart,
                    const uint32_t *excluded, size_t nexcluded, mel__reach_visit visit,
                    void *ctx)
{
    uint32_t nn = mel__nodes(g), *stack = NULL;
    size_t sp = 0, scap = 0, k;
    uint8_t *seen;
    int rc = MEL_OK;

    seen = mel__calloc(g->alloc, ((size_t)nn + 8) / 8, 1);
    if (!seen)
        return MEL_ENOMEM;
#define MARK(i) (seen[(i) >> 3] |= (uint8_t)(1u << ((i)&7)))
#define SEEN(i) (seen[(i) >> 3] & (1u << ((i)&7)))
    for (k = 0; k < nexcluded; k++)
        if (excluded[k] < nn)
            MARK(excluded[k]);
    for (k = 0; k < nstart; k++) {
        uint32_t s = start[k];
        if (s >= nn || SEEN(s) || !mel__live(g, s))
            continue;
        MARK(s);
        if (sp == scap) {
            size_t ncap = scap ? scap * 2 : 1024;
            uint32_t *ns = mel__realloc(g->alloc, stack, scap * sizeof *ns, ncap * sizeof *ns);
            if (!ns) {
                rc = MEL_ENOMEM;
                goto done;
            }
            stack = ns;
            scap = ncap;
        }
        stack[sp++] = s;
        while (sp) {
            uint32_t i = stack[--sp], cnt, c;
            const uint32_t *ch;
            visit(ctx, i);
            ch = mel__children(g, i, &cnt);
            if (sp + cnt > scap) {
                size_t ncap = scap ? scap : 1024;
                uint32_t *ns;
                while (ncap < sp + cnt)
                    ncap *= 2;
                ns = mel__realloc(g->alloc, stack, scap * sizeof *ns, ncap * sizeof *ns);
                if (!ns) {
                    rc = MEL_ENOMEM;
                    goto done;
                }
                stack = ns;
                scap = ncap;
            }
            for (c = 0; c < cnt; c++) {
                uint32_t t = ch[c];
                if (SEEN(t) || !mel__live(g, t))
                    continue;
                MARK(t);
                stack[sp++] = t;
            }
        }
    }
#undef MARK
#undef SEEN
done:
    mel__free(g->alloc, stack, scap * sizeof *stack);
    mel__free(g->alloc, seen, ((size_t)nn + 8) / 8);
    return rc;
}

typedef struct list_ctx {
    uint32_t *out;
    size_t n, cap;
    int oom;
} list_ctx;

static void list_visit(void *vctx, uint32_t i)
{
    list_ctx *c = vctx;
    if (c->oom)
        return;
    if (c->n == c->cap) {
        size_t ncap = c->cap ? c->cap * 2 : 256;
        uint32_t *np = realloc(c->out, ncap * sizeof *np);
        if (!np) {
            c->oom = 1;
            return;
        }
        c->out = np;
        c->cap = ncap;
    }
    c->out[c->n++] = i;
}

int mel_reach(const mel_graph *g, uint32_t start, const uint32_t *excluded, size_t nexcluded,
              uint32_t **out, size_t *n)
{
    list_ctx c;
    int rc;

    if (!g || !out || !n || (!excluded && nexcluded))
        return MEL_EINVAL;
    *out = NULL;
    *n = 0;
    memset(&c, 0, sizeof c);
    rc = mel__reach_walk(g, &start, 1, excluded, nexcluded, list_visit, &c);
    if (!rc && c.oom)
        rc = MEL_ENOMEM;
    if (rc) {
        free(c.out);
        return rc;
    }
    if (!c.out) {
        c.out = malloc(sizeof *c.out);
        if (!c.out)
            return MEL_ENOMEM;
    }
    *out = c.out;
    *n = c.n;
    return MEL_OK;
}

typedef struct size_ctx {
    const struct mel_graph *g;
    uint64_t total;
} size_ctx;

static void size_visit(void *vctx, uint32_t i)
{
    size_ctx *c = vctx;
    c->total += mel_graph_size(c->g, i);
}

int mel_total_size(const mel_graph *g, uint32_t start, const uint32_t *excluded,
                   size_t nexcluded, uint64_t *total)
{
    size_ctx c;
    int rc;

    if (!g || !total || (!excluded && nexcluded))
        return MEL_EINVAL;
    c.g = g;
    c.total = 0;
    rc = mel__reach_walk(g, &start, 1, excluded, nexcluded, size_visit, &c);
    *total = rc ? 0 : c.total;
    return rc;
}
