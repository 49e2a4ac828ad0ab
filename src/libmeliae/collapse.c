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
 * been computed.  Candidates are found first, from each record's type and
 * child count; without any, nothing else is read.  The single-owner check
 * then reads the parents when they are computed (cap 2 or more), else
 * counts the edges into candidate dicts.  O(nodes + edges); three bits per
 * node plus a new children CSR while it is built.
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

/* Bitmaps over node indexes. */
static inline int bit_get(const uint64_t *b, uint32_t i)
{
    return (int)((b[i >> 6] >> (i & 63)) & 1);
}

static inline void bit_set(uint64_t *b, uint32_t i)
{
    b[i >> 6] |= (uint64_t)1 << (i & 63);
}

/* One more reference to node t, saturating at 2: once gets its bit on the
 * first, twice on the second. */
static inline void count_one(uint64_t *once, uint64_t *twice, uint32_t t)
{
    if (bit_get(once, t))
        bit_set(twice, t);
    else
        bit_set(once, t);
}

/* Counts the root markers at the nodes flagged in cand. */
static void count_roots(const struct mel_graph *g, const uint64_t *cand, uint64_t *once,
                        uint64_t *twice)
{
    size_t r;

    for (r = 0; r < g->nroots; r++) {
        uint32_t t = g->roots[r].node;
        if (t != MEL_NONE && bit_get(cand, t))
            count_one(once, twice, t);
    }
}

/* Counts the edges from live records to the nodes flagged in cand. */
static void count_edges(const struct mel_graph *g, const uint64_t *cand, uint64_t *once,
                        uint64_t *twice)
{
    uint32_t i, k, cnt;

    for (i = 0; i < g->n; i++) {
        const uint32_t *ch;
        if (!mel__live(g, i))
            continue;
        ch = mel__children(g, i, &cnt);
        for (k = 0; k < cnt; k++) {
            if (bit_get(cand, ch[k]))
                count_one(once, twice, ch[k]);
        }
    }
}

int mel_collapse_instance_dicts(mel_graph *g, uint64_t *ncollapsed, mel_progress_fn progress,
                                void *progress_ctx)
{
    static const char *const skipped[] = {"str", "dict", "tuple", "list", "type", "function",
                                           "wrapper_descriptor", "code", "classobj", "int",
                                           "weakref"};
    uint8_t *skip = NULL;
    uint64_t *bits = NULL, *cand, *once, *twice;
    fold *folds = NULL;
    size_t nfolds = 0, fcap = 0, f, w, nwords;
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
    if (!skip)
        goto done;
    for (k = 0; k < sizeof skipped / sizeof *skipped; k++) {
        uint32_t t = mel_graph_type_find(g, skipped[k], strlen(skipped[k]));
        if (t != MEL_NONE)
            skip[t] = 1;
    }

    /* 1. Candidates: owners whose children have one of the three shapes.
     * Most records fail on their type or child count without any random
     * access. */
    for (i = 0; i < g->n; i++) {
        const uint32_t *ch;
        fold fo;
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
        if (skip[g->type[i]] || !mel__live(g, i))
            continue;
        ch = mel__children(g, i, &cnt);
        if (cnt != 1 && cnt != 2)
            continue;
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
        if (!fo.kind || fo.dict == i)
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
    }
    if (!nfolds) {
        rc = MEL_OK;
        goto done;
    }

    /* 2. Single owner: a candidate dict must be referenced exactly once
     * (by its owner) among the edges of live records and the root markers.
     * Parents computed with a cap of at least 2 already tell: the dict's
     * one distinct parent is its owner, which lists it once (the shapes
     * above), so only the root markers are left to count.  Otherwise the
     * edges into candidate dicts are counted. */
    nwords = (size_t)nn / 64 + 1;
    bits = mel__calloc(g->alloc, 3 * nwords, sizeof *bits);
    if (!bits)
        goto done;
    cand = bits;
    once = bits + nwords;
    twice = bits + 2 * nwords;
    for (f = 0; f < nfolds; f++)
        bit_set(cand, folds[f].dict);
    count_roots(g, cand, once, twice);
    if (g->has_parents && (g->max_parents < 0 || g->max_parents >= 2)) {
        for (f = 0, w = 0; f < nfolds; f++) {
            uint32_t d = folds[f].dict;
            if (g->poff[d + 1] - g->poff[d] != 1 || bit_get(once, d) || bit_get(twice, d))
                continue;
            bit_set(twice, d); /* never folded twice */
            folds[w++] = folds[f];
        }
    } else {
        count_edges(g, cand, once, twice);
        for (f = 0, w = 0; f < nfolds; f++) {
            uint32_t d = folds[f].dict;
            if (!bit_get(once, d) || bit_get(twice, d))
                continue;
            bit_set(twice, d);
            folds[w++] = folds[f];
        }
    }
    nfolds = w;
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
     * folded dicts lose theirs.  The bitmaps are reused as per-node marks:
     * cand = owner, once = folded dict. */
    memset(bits, 0, 2 * nwords * sizeof *bits);
    for (f = 0; f < nfolds; f++) {
        bit_set(cand, folds[f].owner);
        bit_set(once, folds[f].dict);
    }
    for (i = 0, f = 0; i < nn; i++) {
        if (bit_get(once, i))
            continue;
        if (bit_get(cand, i)) {
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
        if (bit_get(once, i))
            continue;
        if (bit_get(cand, i)) {
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
    mel__free(g->alloc, bits, 0);
    mel__free(g->alloc, folds, 0);
    mel__free(g->alloc, ncoff, 0);
    mel__free(g->alloc, ndst, 0);
    return rc;
}
