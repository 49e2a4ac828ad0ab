/*
 * collapse.c - folds instance __dict__s into their owners, the classic
 * Meliae rule (collapse_instance_dicts) plus a single-owner check.
 *
 * Objects whose type is one of str, dict, tuple, list, type, function,
 * wrapper_descriptor, code, classobj, int, weakref are never owners.  Any
 * other live record `obj` absorbs a dict `d` when
 *   1. obj is a module with exactly one child, d, a dict;
 *   2. obj has exactly the children [d, T], d a dict and T a type: T is kept;
 *   3. obj is an old-style "instance" with children [C, d], C a classobj and
 *      d a dict: C is kept and obj is retyped to C's name;
 * and d's only referrer (counting edges from live records and root markers)
 * is obj.  Then obj's children become d's children (plus the kept ref), its
 * size grows by d's size, and d is flagged MEL_NODE_DELETED.  When d's refs
 * are key/value pairs, obj's "kv" becomes their count, so edge labels still
 * name the keys (obj.attr rather than obj.__dict__).  The children CSR is
 * rebuilt once at the end; parents are recomputed (same cap) if they had
 * been computed.  O(nodes + edges); 1 byte per node of in-degree plus a new
 * children CSR while it is built.
 *
 * All or nothing: every allocation happens before the graph changes, and a
 * failure while recomputing parents puts the old children back, so a call
 * that fails leaves the graph as it was.
 */
#include "graph_internal.h"

#include <string.h>

enum { FOLD_MODULE = 1, FOLD_NEWSTYLE = 2, FOLD_OLDSTYLE = 3 };

typedef struct fold {
    uint32_t owner, dict, keep; /* keep: MEL_NONE for modules */
    uint32_t new_type;          /* old-style instances: the class's name, else MEL_NONE */
    uint64_t new_size;          /* owner's size plus the dict's */
    uint64_t new_kv;            /* key/value pairs the owner now starts with */
    int kind;
} fold;

/* Key/value pairs at the start of dict d's refs: all of them when they pair
 * up (classic Python 3 dumps list only values: then none). */
static uint64_t dict_pairs(const struct mel_graph *g, uint32_t d)
{
    uint32_t cnt;
    int64_t len = mel_graph_len(g, d);

    mel__children(g, d, &cnt);
    if (cnt % 2 != 0 || (len >= 0 && (uint64_t)len * 2 != cnt))
        return 0;
    return cnt / 2;
}

/* Makes sure a later mel__set_size / mel__set_kv of node i cannot allocate,
 * without changing what the graph reports now: a value that needs a side
 * entry gets one, while the narrow array keeps pointing at the old value. */
static int reserve_side(struct mel_graph *g, uint32_t i, uint64_t size, uint64_t kv)
{
    if (size >= MEL__SIZE_SIDE && g->size32[i] != MEL__SIZE_SIDE) {
        uint32_t old = g->size32[i];
        int rc = mel__set_size(g, i, size);
        g->size32[i] = old;
        if (rc)
            return rc;
    }
    if (kv >= MEL__KV_SIDE && g->kv16[i] != MEL__KV_SIDE) {
        uint16_t old = g->kv16[i];
        int rc = mel__set_kv(g, i, kv);
        g->kv16[i] = old;
        if (rc)
            return rc;
    }
    return MEL_OK;
}

static int type_is(const struct mel_graph *g, uint32_t i, uint32_t tid)
{
    return tid != MEL_NONE && g->type[i] == tid && mel__live(g, i);
}

int mel_collapse_instance_dicts(mel_graph *g, uint64_t *ncollapsed, mel_progress_fn progress,
                                void *progress_ctx)
{
    static const char *const skipped[] = {"str", "dict", "tuple", "list", "type", "function",
                                           "wrapper_descriptor", "code", "classobj", "int",
                                           "weakref"};
    uint8_t *skip = NULL, *indeg = NULL;
    fold *folds = NULL;
    size_t nfolds = 0, fcap = 0, f;
    uint32_t nn, i, k, cnt, t_dict, t_type, t_module, t_instance, t_classobj;
    uint32_t *ncoff = NULL, *ndst = NULL, *old_coff, *old_cdst;
    uint64_t total = 0, e, old_ncdst, old_cdst_cap;
    int rc = MEL_ENOMEM;

    if (!g)
        return MEL_EINVAL;
    if (ncollapsed)
        *ncollapsed = 0;
    nn = mel__nodes(g);
    t_dict = mel_graph_type_find(g, "dict", 4);
    t_type = mel_graph_type_find(g, "type", 4);
    t_module = mel_graph_type_find(g, "module", 6);
    t_instance = mel_graph_type_find(g, "instance", 8);
    t_classobj = mel_graph_type_find(g, "classobj", 8);
    if (t_dict == MEL_NONE)
        return MEL_OK; /* nothing to fold */

    skip = mel__calloc(g->alloc, g->ntypes ? g->ntypes : 1, 1);
    indeg = mel__calloc(g->alloc, (size_t)nn + 1, 1);
    if (!skip || !indeg)
        goto done;
    for (k = 0; k < sizeof skipped / sizeof *skipped; k++) {
        uint32_t t = mel_graph_type_find(g, skipped[k], strlen(skipped[k]));
        if (t != MEL_NONE)
            skip[t] = 1;
    }
    /* in-degree from live records, saturating at 2 */
    for (i = 0; i < g->n; i++) {
        const uint32_t *ch;
        if (!mel__live(g, i))
            continue;
        ch = mel__children(g, i, &cnt);
        for (k = 0; k < cnt; k++)
            if (indeg[ch[k]] < 2)
                indeg[ch[k]]++;
    }
    for (k = 0; k < g->nroots; k++)
        if (g->roots[k].node != MEL_NONE && indeg[g->roots[k].node] < 2)
            indeg[g->roots[k].node]++;

    for (i = 0; i < g->n; i++) {
        const uint32_t *ch;
        fold fo;
        if (!mel__live(g, i) || skip[g->type[i]])
            continue;
        if (progress && (i & 0xffff) == 0) {
            mel_progress pr;
            memset(&pr, 0, sizeof pr);
            pr.lines = i;
            pr.objects = nfolds;
            pr.phase = "collapse";
            if (progress(progress_ctx, &pr)) {
                rc = MEL_ECANCELED;
                goto done;
            }
        }
        ch = mel__children(g, i, &cnt);
        fo.kind = 0;
        if (g->type[i] == t_module && cnt == 1 && type_is(g, ch[0], t_dict)) {
            fo.kind = FOLD_MODULE;
            fo.dict = ch[0];
            fo.keep = MEL_NONE;
        } else if (cnt == 2 && type_is(g, ch[0], t_dict) && type_is(g, ch[1], t_type)) {
            fo.kind = FOLD_NEWSTYLE;
            fo.dict = ch[0];
            fo.keep = ch[1];
        } else if (g->type[i] == t_instance && cnt == 2 && type_is(g, ch[0], t_classobj) &&
                   type_is(g, ch[1], t_dict)) {
            fo.kind = FOLD_OLDSTYLE;
            fo.dict = ch[1];
            fo.keep = ch[0];
        }
        if (!fo.kind || indeg[fo.dict] != 1 || fo.dict == i)
            continue;
        fo.owner = i;
        if (nfolds == fcap) {
            size_t ncap = fcap ? fcap * 2 : 256;
            fold *nf = mel__realloc(g->alloc, folds, fcap * sizeof *nf, ncap * sizeof *nf);
            if (!nf)
                goto done;
            folds = nf;
            fcap = ncap;
        }
        folds[nfolds++] = fo;
        indeg[fo.dict] = 2; /* never folded twice */
    }
    if (!nfolds) {
        rc = MEL_OK;
        goto done;
    }

    /* Every allocation first: relocated children laid out in place (so the
     * old CSR can be put back as it is), the owners' new types, side
     * entries for big sizes and kv counts, and the new CSR. */
    if ((rc = mel__graph_compact(g)) != MEL_OK)
        goto done;
    rc = MEL_ENOMEM;
    for (f = 0; f < nfolds; f++) {
        fold *fo = &folds[f];
        fo->new_type = MEL_NONE;
        fo->new_size = mel_graph_size(g, fo->owner) + mel_graph_size(g, fo->dict);
        fo->new_kv = dict_pairs(g, fo->dict);
        if (fo->kind == FOLD_OLDSTYLE) {
            mel_value v;
            mel_graph_value(g, fo->keep, &v);
            if (v.kind == MEL_VALUE_TEXT) {
                fo->new_type = mel__type_intern(g, v.text, v.text_len);
                if (fo->new_type == MEL_NONE)
                    goto done;
            }
        }
        if (reserve_side(g, fo->owner, fo->new_size, fo->new_kv) != MEL_OK)
            goto done;
    }

    /* New children CSR: owners take their dict's children (+ kept ref),
     * folded dicts lose theirs.  indeg is reused as a per-node mark:
     * 3 = owner, 4 = folded dict. */
    for (f = 0; f < nfolds; f++) {
        indeg[folds[f].owner] = 3;
        indeg[folds[f].dict] = 4;
    }
    for (i = 0, f = 0; i < nn; i++) {
        if (indeg[i] == 4)
            continue;
        if (indeg[i] == 3) {
            mel__children(g, folds[f].dict, &cnt);
            total += cnt + (folds[f].keep != MEL_NONE);
            f++;
        } else {
            mel__children(g, i, &cnt);
            total += cnt;
        }
    }
    if (total > UINT32_MAX) {
        rc = MEL_ELIMIT;
        goto done;
    }
    ncoff = mel__malloc(g->alloc, ((size_t)g->cap + 1) * sizeof *ncoff);
    ndst = mel__malloc(g->alloc, (size_t)(total ? total : 1) * sizeof *ndst);
    if (!ncoff || !ndst)
        goto done;
    for (i = 0, f = 0, e = 0; i < nn; i++) {
        const uint32_t *ch;
        ncoff[i] = (uint32_t)e;
        if (indeg[i] == 4)
            continue;
        if (indeg[i] == 3) {
            ch = mel__children(g, folds[f].dict, &cnt);
            memcpy(ndst + e, ch, (size_t)cnt * sizeof *ch);
            e += cnt;
            if (folds[f].keep != MEL_NONE)
                ndst[e++] = folds[f].keep;
            f++;
        } else {
            ch = mel__children(g, i, &cnt);
            memcpy(ndst + e, ch, (size_t)cnt * sizeof *ch);
            e += cnt;
        }
    }
    ncoff[nn] = (uint32_t)e;

    /* Swap in the new children and flag the dicts; parents (if any) follow.
     * Should that fail, the old children and flags come back. */
    old_coff = g->coff;
    old_cdst = g->cdst;
    old_ncdst = g->ncdst;
    old_cdst_cap = g->cdst_cap;
    g->coff = ncoff;
    g->cdst = ndst;
    g->ncdst = e;
    g->cdst_cap = total ? total : 1;
    ncoff = ndst = NULL;
    for (f = 0; f < nfolds; f++)
        g->flags[folds[f].dict] |= MEL_NODE_DELETED;
    g->ndeleted += (uint32_t)nfolds;
    if (g->has_parents && (rc = mel_graph_compute_parents(g, g->max_parents)) != MEL_OK) {
        for (f = 0; f < nfolds; f++)
            g->flags[folds[f].dict] &= (uint8_t)~MEL_NODE_DELETED;
        g->ndeleted -= (uint32_t)nfolds;
        ncoff = g->coff;
        ndst = g->cdst;
        g->coff = old_coff;
        g->cdst = old_cdst;
        g->ncdst = old_ncdst;
        g->cdst_cap = old_cdst_cap;
        goto done;
    }
    /* Committed: nothing below can fail. */
    mel__graph_invalidate(g);
    mel__free(g->alloc, old_coff, 0);
    mel__free(g->alloc, old_cdst, 0);
    for (f = 0; f < nfolds; f++) {
        (void)mel__set_size(g, folds[f].owner, folds[f].new_size);
        (void)mel__set_kv(g, folds[f].owner, folds[f].new_kv);
        if (folds[f].new_type != MEL_NONE)
            g->type[folds[f].owner] = folds[f].new_type;
    }
    if (ncollapsed)
        *ncollapsed = nfolds;
    rc = MEL_OK;
done:
    mel__free(g->alloc, skip, 0);
    mel__free(g->alloc, indeg, 0);
    mel__free(g->alloc, folds, 0);
    mel__free(g->alloc, ncoff, 0);
    mel__free(g->alloc, ndst, 0);
    return rc;
}
