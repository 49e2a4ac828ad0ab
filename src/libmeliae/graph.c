/*
 * graph.c - the graph store: struct-of-arrays records, the address index,
 * interned type names, text values in one arena, children in CSR form, and
 * the read/write accessors of meliae.h section 4.  The layout is described
 * in graph_internal.h.  Parents live in parents.c, loading in reader.c.
 */
#ifndef _DEFAULT_SOURCE
#define _DEFAULT_SOURCE /* madvise, MADV_HUGEPAGE */
#endif
#include "graph_internal.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

/* ---------------------------------------------------------------------
 * Arenas and sparse maps
 * ------------------------------------------------------------------- */

int mel__arena_reserve(const mel_allocator *a, mel__arena *ar, size_t extra)
{
    size_t want, ncap;
    char *p;

    if (extra > SIZE_MAX - ar->n)
        return MEL_ENOMEM;
    want = ar->n + extra;
    if (want <= ar->cap)
        return MEL_OK;
    ncap = ar->cap ? ar->cap : 4096;
    while (ncap < want)
        ncap = ncap > SIZE_MAX / 2 ? want : ncap * 2;
    p = mel__realloc(a, ar->p, ar->cap, ncap);
    if (!p)
        return MEL_ENOMEM;
    ar->p = p;
    ar->cap = ncap;
    return MEL_OK;
}

int mel__arena_put_text(const mel_allocator *a, mel__arena *ar, const char *s, size_t len,
                        uint64_t *off)
{
    uint64_t v = len;
    int rc = mel__arena_reserve(a, ar, len + 10);

    if (rc)
        return rc;
    *off = ar->n;
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        ar->p[ar->n++] = (char)(v ? (b | 0x80) : b);
    } while (v);
    if (len)
        memcpy(ar->p + ar->n, s, len);
    ar->n += len;
    return MEL_OK;
}

const char *mel__arena_text(const mel__arena *ar, uint64_t off, size_t *len)
{
    const uint8_t *p = (const uint8_t *)ar->p + off;
    uint64_t v = 0;
    unsigned shift = 0;

    for (;;) {
        uint8_t b = *p++;
        v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            break;
        shift += 7;
    }
    *len = (size_t)v;
    return (const char *)p;
}

/* Position of index i in s (or where it would be inserted). */
static size_t sparse_pos(const mel__sparse *s, uint32_t i)
{
    size_t lo = 0, hi = s->n;

    if (s->n && s->idx[s->n - 1] < i)
        return s->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (s->idx[mid] < i)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static uint64_t sparse_get(const mel__sparse *s, uint32_t i)
{
    size_t k = sparse_pos(s, i);
    return (k < s->n && s->idx[k] == i) ? s->val[k] : 0;
}

/* Sets s[i] = v.  0 or MEL_ENOMEM. */
/* Grows s's arrays to ncap entries (> cap).  0 or MEL_ENOMEM; on failure s
 * still describes its entries (cap unchanged). */
static int sparse_grow(const mel_allocator *a, mel__sparse *s, size_t ncap)
{
    uint32_t *ni = mel__realloc(a, s->idx, s->cap * sizeof *ni, ncap * sizeof *ni);
    uint64_t *nv;

    if (!ni)
        return MEL_ENOMEM;
    s->idx = ni;
    nv = mel__realloc(a, s->val, s->cap * sizeof *nv, ncap * sizeof *nv);
    if (!nv)
        return MEL_ENOMEM; /* idx grown, cap unchanged: still consistent */
    s->val = nv;
    s->cap = ncap;
    return MEL_OK;
}

static int sparse_set(const mel_allocator *a, mel__sparse *s, uint32_t i, uint64_t v)
{
    size_t k = sparse_pos(s, i);

    if (k < s->n && s->idx[k] == i) {
        s->val[k] = v;
        return MEL_OK;
    }
    if (s->n == s->cap && sparse_grow(a, s, s->cap ? s->cap * 2 : 16))
        return MEL_ENOMEM;
    memmove(s->idx + k + 1, s->idx + k, (s->n - k) * sizeof *s->idx);
    memmove(s->val + k + 1, s->val + k, (s->n - k) * sizeof *s->val);
    s->idx[k] = i;
    s->val[k] = v;
    s->n++;
    return MEL_OK;
}

int mel__sparse_append(const mel_allocator *a, mel__sparse *dst, const mel__sparse *src,
                       uint32_t shift)
{
    size_t k, want = dst->n + src->n;

    if (!src->n)
        return MEL_OK;
    if (want > dst->cap && sparse_grow(a, dst, want))
        return MEL_ENOMEM;
    for (k = 0; k < src->n; k++) {
        dst->idx[dst->n + k] = src->idx[k] + shift;
        dst->val[dst->n + k] = src->val[k];
    }
    dst->n = want;
    return MEL_OK;
}

static void sparse_free(const mel_allocator *a, mel__sparse *s)
{
    mel__free(a, s->idx, s->cap * sizeof *s->idx);
    mel__free(a, s->val, s->cap * sizeof *s->val);
    memset(s, 0, sizeof *s);
}

/* Remaps the indexes of s through map (old index -> new index); map must be
 * increasing on the entries present. */
static void sparse_remap(mel__sparse *s, uint32_t from, const uint32_t *map)
{
    size_t k;
    for (k = 0; k < s->n; k++)
        if (s->idx[k] >= from)
            s->idx[k] = map[s->idx[k] - from];
}

/* ---------------------------------------------------------------------
 * Creation, growth, destruction
 * ------------------------------------------------------------------- */

int mel__graph_new(const mel_allocator *alloc, struct mel_graph **out)
{
    struct mel_graph *g;
    uint32_t k;

    *out = NULL;
    g = mel__calloc(alloc, 1, sizeof *g);
    if (!g)
        return MEL_ENOMEM;
    if (alloc) {
        g->alloc_copy = *alloc;
        g->has_alloc = 1;
        g->alloc = &g->alloc_copy;
    }
    g->thbits = 6;
    g->thash = mel__malloc(g->alloc, sizeof *g->thash << g->thbits);
    g->coff = mel__calloc(g->alloc, 1, sizeof *g->coff);
    if (!g->thash || !g->coff)
        goto error;
    for (k = 0; k < (1u << g->thbits); k++)
        g->thash[k] = MEL_NONE;
    g->max_parents = -1;
    g->missing_type = mel__type_intern(g, "<missing>", 9);
    if (g->missing_type == MEL_NONE)
        goto error;
    *out = g;
    return MEL_OK;
error:
    mel_graph_free(g);
    return MEL_ENOMEM;
}

#define GROW_ARR(field, elt)                                                          \
    do {                                                                              \
        void *np_ = mel__realloc(g->alloc, g->field, (size_t)g->cap * (elt),          \
                                 (size_t)ncap * (elt));                               \
        if (!np_)                                                                     \
            goto error;                                                               \
        g->field = np_;                                                               \
    } while (0)

int mel__graph_reserve(struct mel_graph *g, uint32_t want)
{
    uint32_t ncap;
    uint32_t *ncoff;

    if (want <= g->cap)
        return MEL_OK;
    if (want > UINT32_MAX - 2)
        return MEL_ENOMEM;
    ncap = g->cap ? g->cap : 1024;
    while (ncap < want)
        ncap = ncap > (UINT32_MAX - 2) / 2 ? UINT32_MAX - 2 : ncap * 2;
    /* Each array is grown in turn; g->cap only moves when all are grown, so a
     * failure leaves some arrays larger than cap, which is harmless. */
    GROW_ARR(addr, sizeof(uint64_t));
    GROW_ARR(type, sizeof(uint32_t));
    GROW_ARR(size32, sizeof(uint32_t));
    GROW_ARR(len32, sizeof(uint32_t));
    GROW_ARR(kv16, sizeof(uint16_t));
    GROW_ARR(flags, sizeof(uint8_t));
    GROW_ARR(val, sizeof(uint64_t));
    if (g->rstart) {
        GROW_ARR(rstart, sizeof(uint32_t));
        GROW_ARR(rcount, sizeof(uint32_t));
    }
    ncoff = mel__realloc(g->alloc, g->coff, ((size_t)g->cap + 1) * sizeof *ncoff,
                         ((size_t)ncap + 1) * sizeof *ncoff);
    if (!ncoff)
        goto error;
    g->coff = ncoff;
    g->cap = ncap;
    return MEL_OK;
error:
    return MEL_ENOMEM;
}

#define SHRINK_ARR(field, elt)                                                        \
    do {                                                                              \
        void *np_ = mel__realloc(g->alloc, g->field, (size_t)g->cap * (elt),          \
                                 (size_t)want * (elt));                               \
        if (np_)                                                                      \
            g->field = np_;                                                           \
    } while (0)

void mel__graph_shrink(struct mel_graph *g)
{
    uint32_t want = mel__nodes(g) ? mel__nodes(g) : 1;

    /* Only with libc: an injected allocator sees every allocation it is
     * asked for fail loudly, and a shrink that fails is not an error. */
    if (g->alloc || want >= g->cap || g->rstart)
        return;
    /* If a realloc fails the array keeps its old, larger block: still at
     * least cap = want elements, so cap can move to want either way. */
    SHRINK_ARR(addr, sizeof(uint64_t));
    SHRINK_ARR(type, sizeof(uint32_t));
    SHRINK_ARR(size32, sizeof(uint32_t));
    SHRINK_ARR(len32, sizeof(uint32_t));
    SHRINK_ARR(kv16, sizeof(uint16_t));
    SHRINK_ARR(flags, sizeof(uint8_t));
    SHRINK_ARR(val, sizeof(uint64_t));
    {
        uint32_t *nc = mel__realloc(g->alloc, g->coff, ((size_t)g->cap + 1) * sizeof *nc,
                                    ((size_t)want + 1) * sizeof *nc);
        if (nc)
            g->coff = nc;
    }
    g->cap = want;
    if (g->varena.cap > g->varena.n + 16) {
        char *np = mel__realloc(g->alloc, g->varena.p, g->varena.cap, g->varena.n + 16);
        if (np) {
            g->varena.p = np;
            g->varena.cap = g->varena.n + 16;
        }
    }
}

void mel__graph_invalidate(struct mel_graph *g)
{
    if (g->analysis_free)
        g->analysis_free(g);
    g->analysis = NULL;
    g->analysis_free = NULL;
}

void mel__graph_drop_parents(struct mel_graph *g)
{
    if (g->poff)
        mel__free(g->alloc, g->poff, ((size_t)mel__nodes(g) + 1) * sizeof *g->poff);
    if (g->pdst)
        mel__free(g->alloc, g->pdst, 0);
    g->poff = NULL;
    g->pdst = NULL;
    g->has_parents = 0;
}

void mel_graph_free(mel_graph *g)
{
    const mel_allocator *a;

    if (!g)
        return;
    mel__graph_invalidate(g);
    a = g->alloc;
    mel__graph_drop_parents(g);
    mel__free(a, g->addr, 0);
    mel__free(a, g->type, 0);
    mel__free(a, g->size32, 0);
    mel__free(a, g->len32, 0);
    mel__free(a, g->kv16, 0);
    mel__free(a, g->flags, 0);
    mel__free(a, g->val, 0);
    mel__free(a, g->rstart, 0);
    mel__free(a, g->rcount, 0);
    mel__free(a, g->coff, 0);
    mel__free(a, g->cdst, 0);
    mel__free(a, g->hslots, 0);
    mel__free(a, g->types, 0);
    mel__free(a, g->thash, 0);
    mel__free(a, g->strs.p, 0);
    mel__free(a, g->varena.p, 0);
    mel__free(a, g->roots, 0);
    sparse_free(a, &g->size_side);
    sparse_free(a, &g->len_side);
    sparse_free(a, &g->kv_side);
    mel__free(a, g, sizeof *g);
}

/* ---------------------------------------------------------------------
 * Types and strings
 * ------------------------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    size_t k;
    for (k = 0; k < len; k++) {
        h ^= (uint8_t)s[k];
        h *= 0x100000001b3ull;
    }
    return (uint32_t)(h ^ (h >> 32));
}

int mel__strs_put(struct mel_graph *g, const char *s, size_t len, uint64_t *off)
{
    int rc = mel__arena_reserve(g->alloc, &g->strs, len + 1);
    if (rc)
        return rc;
    *off = g->strs.n;
    if (len)
        memcpy(g->strs.p + g->strs.n, s, len);
    g->strs.p[g->strs.n + len] = '\0';
    g->strs.n += len + 1;
    return MEL_OK;
}

static uint32_t type_find(const struct mel_graph *g, const char *name, size_t len, uint32_t h)
{
    uint32_t t = g->thash[h & ((1u << g->thbits) - 1)];
    while (t != MEL_NONE) {
        const mel__type *ty = &g->types[t];
        if (ty->name_len == len && memcmp(g->strs.p + ty->name_off, name, len) == 0)
            return t;
        t = ty->hnext;
    }
    return MEL_NONE;
}

uint32_t mel__type_intern(struct mel_graph *g, const char *name, size_t len)
{
    uint32_t h = hash_bytes(name, len), t;
    uint64_t off;

    if (len > UINT32_MAX)
        return MEL_NONE;
    t = type_find(g, name, len, h);
    if (t != MEL_NONE)
        return t;
    if (g->ntypes >= UINT32_MAX - 1)
        return MEL_NONE;
    if (g->ntypes == g->types_cap) {
        uint32_t ncap = g->types_cap ? g->types_cap * 2 : 64;
        mel__type *nt = mel__realloc(g->alloc, g->types, (size_t)g->types_cap * sizeof *nt,
                                     (size_t)ncap * sizeof *nt);
        if (!nt)
            return MEL_NONE;
        g->types = nt;
        g->types_cap = ncap;
    }
    if (g->ntypes + 1 > (1u << g->thbits)) {
        uint32_t nbits = g->thbits + 1, k;
        uint32_t *nh = mel__malloc(g->alloc, sizeof *nh << nbits);
        if (!nh)
            return MEL_NONE;
        for (k = 0; k < (1u << nbits); k++)
            nh[k] = MEL_NONE;
        for (k = 0; k < g->ntypes; k++) {
            mel__type *ty = &g->types[k];
            uint32_t b = hash_bytes(g->strs.p + ty->name_off, ty->name_len) & ((1u << nbits) - 1);
            ty->hnext = nh[b];
            nh[b] = k;
        }
        mel__free(g->alloc, g->thash, sizeof *nh << g->thbits);
        g->thash = nh;
        g->thbits = nbits;
    }
    if (mel__strs_put(g, name, len, &off))
        return MEL_NONE;
    t = g->ntypes++;
    g->types[t].name_off = off;
    g->types[t].name_len = (uint32_t)len;
    g->types[t].hnext = g->thash[h & ((1u << g->thbits) - 1)];
    g->thash[h & ((1u << g->thbits) - 1)] = t;
    return t;
}

uint32_t mel_graph_type_intern(mel_graph *g, const char *name, size_t len)
{
    if (!g || (!name && len))
        return MEL_NONE;
    return mel__type_intern(g, name ? name : "", len);
}

uint32_t mel_graph_type_find(const mel_graph *g, const char *name, size_t len)
{
    if (!g || (!name && len))
        return MEL_NONE;
    return type_find(g, name ? name : "", len, hash_bytes(name ? name : "", len));
}

uint32_t mel_graph_type_count(const mel_graph *g)
{
    return g->ntypes;
}

const char *mel_graph_type_name(const mel_graph *g, uint32_t type_id, size_t *len)
{
    if (type_id >= g->ntypes) {
        if (len)
            *len = 0;
        return NULL;
    }
    if (len)
        *len = g->types[type_id].name_len;
    return g->strs.p + g->types[type_id].name_off;
}

/* ---------------------------------------------------------------------
 * Address index
 * ------------------------------------------------------------------- */

/* Zeroed memory for a large randomly accessed array.  With the libc
 * allocator, arrays of 4 MiB and more are 2 MiB-aligned and marked for
 * transparent huge pages (random probes then miss the TLB far less). */
static void *big_calloc(const mel_allocator *a, size_t n)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (!a && n >= ((size_t)4 << 20)) {
        size_t align = (size_t)2 << 20, rounded = (n + align - 1) & ~(align - 1);
        void *p = aligned_alloc(align, rounded);
        if (p) {
            madvise(p, rounded, MADV_HUGEPAGE);
            memset(p, 0, rounded);
            return p;
        }
    }
#endif
    return mel__calloc(a, n, 1);
}

/* Slot value for node i with address hash x, given hidxbits. */
static inline uint32_t slot_of(uint64_t x, uint32_t i, uint32_t idxbits)
{
    uint32_t fp = idxbits >= 32 ? 0 : (uint32_t)(x & ((1u << (32 - idxbits)) - 1));
    return (uint32_t)(((uint64_t)fp << idxbits) | (i + 1));
}

static inline uint32_t idx_mask(uint32_t idxbits)
{
    return (uint32_t)(((uint64_t)1 << idxbits) - 1);
}

uint32_t mel__find(const struct mel_graph *g, uint64_t address)
{
    uint64_t mask, h, x;
    uint32_t s, want, im, fpm;

    if (!g->hslots)
        return MEL_NONE;
    mask = ((uint64_t)1 << g->hbits) - 1;
    x = mel__mix_addr(address);
    h = x >> (64 - g->hbits);
    im = idx_mask(g->hidxbits);
    fpm = ~im;
    want = slot_of(x, 0, g->hidxbits) & fpm;
    while ((s = g->hslots[h]) != 0) {
        if ((s & fpm) == want && g->addr[(s & im) - 1] == address)
            return (s & im) - 1;
        h = (h + 1) & mask;
    }
    return MEL_NONE;
}

static uint32_t bits_for(uint32_t want)
{
    /* smallest power of two with want / slots <= ~0.7, at least 2^10 */
    uint32_t bits = 10;
    while (bits < 33 && ((uint64_t)1 << bits) * 7 < (uint64_t)want * 10)
        bits++;
    return bits;
}

/* Bits needed to hold n + 1. */
static uint32_t bits_to_hold(uint64_t n)
{
    uint32_t b = 1;
    while (b < 32 && ((uint64_t)1 << b) <= n + 1)
        b++;
    return b;
}

int mel__index_rebuild(struct mel_graph *g, uint32_t want)
{
    uint32_t bits = bits_for(want), i, nn = mel__nodes(g), idxbits;
    uint64_t mask = ((uint64_t)1 << bits) - 1;
    uint32_t *slots;

    if (bits > 32)
        return MEL_ENOMEM;
    /* room for every index the table can hold before its next rebuild */
    idxbits = bits_to_hold((uint64_t)(want > nn ? want : nn) + ((uint64_t)1 << bits));
    slots = big_calloc(g->alloc, ((size_t)1 << bits) * sizeof *slots);
    if (!slots)
        return MEL_ENOMEM;
    for (i = 0; i < nn; i++) {
        uint64_t x = mel__mix_addr(g->addr[i]), h = x >> (64 - bits);
        while (slots[h])
            h = (h + 1) & mask;
        slots[h] = slot_of(x, i, idxbits);
    }
    mel__free(g->alloc, g->hslots, 0);
    g->hslots = slots;
    g->hbits = bits;
    g->hidxbits = idxbits;
    return MEL_OK;
}

/* Nonzero when the table must grow before holding node i. */
static int index_full(const struct mel_graph *g, uint32_t i)
{
    return !g->hslots || ((uint64_t)1 << g->hbits) * 7 < ((uint64_t)i + 1) * 10 ||
           (uint64_t)i + 1 > idx_mask(g->hidxbits);
}

int mel__index_insert_new(struct mel_graph *g, uint32_t i)
{
    uint64_t mask, h, x, a = g->addr[i];
    uint32_t s, want, im, fpm;

    if (MEL_UNLIKELY(index_full(g, i))) {
        int rc = mel__index_rebuild(g, i + 1 > 1024 ? (i + 1) * 2 : 1024);
        if (rc)
            return rc;
    }
    mask = ((uint64_t)1 << g->hbits) - 1;
    x = mel__mix_addr(a);
    h = x >> (64 - g->hbits);
    im = idx_mask(g->hidxbits);
    fpm = ~im;
    want = slot_of(x, i, g->hidxbits);
    while ((s = g->hslots[h]) != 0) {
        if (s == want)
            return MEL_OK; /* node i itself (seen by a rebuild) */
        if ((s & fpm) == (want & fpm) && g->addr[(s & im) - 1] == a)
            return 1;
        h = (h + 1) & mask;
    }
    g->hslots[h] = want;
    return MEL_OK;
}

#if defined(__GNUC__)
/* Index builds over at least this many nodes run on two threads. */
#define INDEX_THREAD_MIN ((uint32_t)1 << 17)

/* One thread's share of a two-thread index build: nodes [from, to). */
typedef struct index_part {
    struct mel_graph *g;
    uint32_t from, to;
} index_part;

/* Inserts nodes [from, to) into the shared table with compare-and-swap.
 * Of nodes sharing an address the lowest index stays in the table; every
 * other one is flagged MEL__F_RELOC, whichever thread meets it. */
static void *index_part_run(void *arg)
{
    index_part *ip = arg;
    struct mel_graph *g = ip->g;
    uint32_t *slots = g->hslots, bits = g->hbits, idxbits = g->hidxbits, i;
    uint32_t im = idx_mask(idxbits), fpm = ~im;
    uint64_t mask = ((uint64_t)1 << bits) - 1;

    for (i = ip->from; i < ip->to; i++) {
        uint64_t a = g->addr[i], x = mel__mix_addr(a), h = x >> (64 - bits);
        uint32_t want = slot_of(x, i, idxbits);
        if (MEL_LIKELY(i + 48 < ip->to))
            MEL_PREFETCH(&slots[mel__hash_addr(g->addr[i + 48], bits)]);
        for (;;) {
            uint32_t s = __atomic_load_n(&slots[h], __ATOMIC_ACQUIRE), other;
            if (!s) {
                if (__atomic_compare_exchange_n(&slots[h], &s, want, 0, __ATOMIC_ACQ_REL,
                                                __ATOMIC_ACQUIRE))
                    break;
                continue; /* taken meanwhile: look at what is there now */
            }
            other = (s & im) - 1;
            if ((s & fpm) != (want & fpm) || g->addr[other] != a) {
                h = (h + 1) & mask;
                continue;
            }
            if (other < i) {
                __atomic_fetch_or(&g->flags[i], (uint8_t)MEL__F_RELOC, __ATOMIC_RELAXED);
                break;
            }
            if (__atomic_compare_exchange_n(&slots[h], &s, want, 0, __ATOMIC_ACQ_REL,
                                            __ATOMIC_ACQUIRE)) {
                __atomic_fetch_or(&g->flags[other], (uint8_t)MEL__F_RELOC, __ATOMIC_RELAXED);
                break;
            }
        }
    }
    return NULL;
}

/* Fills the (empty, sized) table from two threads; 1 if no thread could be
 * started (nothing done). */
static int index_fill_two(struct mel_graph *g, uint32_t nn)
{
    index_part p0, p1;
    pthread_t th;

    p0.g = p1.g = g;
    p0.from = 0;
    p0.to = p1.from = nn / 2;
    p1.to = nn;
    if (pthread_create(&th, NULL, index_part_run, &p1) != 0)
        return 1;
    index_part_run(&p0);
    pthread_join(th, NULL);
    return 0;
}
#endif

int mel__index_build(struct mel_graph *g, uint32_t *ndup)
{
    uint32_t nn = mel__nodes(g), i, dups = 0;
    uint32_t *old = g->hslots;
    int rc;

    /* start from an empty table sized for every node */
    g->hslots = NULL;
    g->hbits = 0;
    g->hidxbits = 0;
    {
        uint32_t keep_n = g->n, keep_m = g->nmissing;
        g->n = 0;
        g->nmissing = 0;
        rc = mel__index_rebuild(g, nn);
        g->n = keep_n;
        g->nmissing = keep_m;
    }
    if (rc) {
        g->hslots = old;
        return rc;
    }
    mel__free(g->alloc, old, 0);
#if defined(__GNUC__)
    if (nn >= INDEX_THREAD_MIN && index_fill_two(g, nn) == 0) {
        for (i = 0; i < nn; i++)
            dups += (g->flags[i] & MEL__F_RELOC) != 0;
        *ndup = dups;
        return MEL_OK;
    }
#endif
    for (i = 0; i < nn; i++) {
        if (MEL_LIKELY(i + 48 < nn))
            MEL_PREFETCH(&g->hslots[mel__hash_addr(g->addr[i + 48], g->hbits)]);
        rc = mel__index_insert_new(g, i);
        if (rc < 0)
            return rc;
        if (rc == 1) {
            g->flags[i] |= MEL__F_RELOC;
            dups++;
        }
    }
    *ndup = dups;
    return MEL_OK;
}

int mel__index_insert(struct mel_graph *g, uint32_t i)
{
    int rc = mel__index_insert_new(g, i);
    return rc == 1 ? MEL_OK : rc; /* callers insert addresses known to be new */
}

/* ---------------------------------------------------------------------
 * Read accessors
 * ------------------------------------------------------------------- */

uint32_t mel_graph_count(const mel_graph *g) { return g->n; }
uint32_t mel_graph_missing(const mel_graph *g) { return g->nmissing; }
uint32_t mel_graph_live(const mel_graph *g) { return g->n - g->ndeleted; }

uint32_t mel_graph_lookup(const mel_graph *g, uint64_t address)
{
    uint32_t i = mel__find(g, address);
    if (i == MEL_NONE || !mel__live(g, i))
        return MEL_NONE;
    return i;
}

uint32_t mel_graph_lookup_any(const mel_graph *g, uint64_t address)
{
    return mel__find(g, address);
}

uint64_t mel_graph_address(const mel_graph *g, uint32_t i)
{
    return i < mel__nodes(g) ? g->addr[i] : 0;
}

uint32_t mel_graph_type(const mel_graph *g, uint32_t i)
{
    return i < mel__nodes(g) ? g->type[i] : MEL_NONE;
}

uint64_t mel_graph_size(const mel_graph *g, uint32_t i)
{
    if (i >= mel__nodes(g))
        return 0;
    if (MEL_UNLIKELY(g->size32[i] == MEL__SIZE_SIDE))
        return sparse_get(&g->size_side, i);
    return g->size32[i];
}

int64_t mel_graph_len(const mel_graph *g, uint32_t i)
{
    uint32_t v;
    if (i >= mel__nodes(g))
        return -1;
    v = g->len32[i];
    if (v == MEL__LEN_NONE)
        return -1;
    if (v == MEL__LEN_SIDE)
        return (int64_t)sparse_get(&g->len_side, i);
    return v;
}

unsigned mel_graph_flags(const mel_graph *g, uint32_t i)
{
    return i < mel__nodes(g) ? (g->flags[i] & MEL__F_PUBLIC) : 0;
}

uint32_t mel_graph_kv_pairs(const mel_graph *g, uint32_t i)
{
    uint64_t v;
    if (i >= mel__nodes(g))
        return 0;
    if (g->kv16[i] != MEL__KV_SIDE)
        return g->kv16[i];
    v = sparse_get(&g->kv_side, i);
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

void mel_graph_value(const mel_graph *g, uint32_t i, mel_value *out)
{
    unsigned k;

    memset(out, 0, sizeof *out);
    if (i >= mel__nodes(g))
        return;
    k = (g->flags[i] & MEL__F_VMASK) >> MEL__F_VSHIFT;
    switch (k) {
    case MEL__V_TEXT:
    case MEL__V_NAME:
        out->kind = MEL_VALUE_TEXT;
        out->is_name = k == MEL__V_NAME;
        out->text = mel__arena_text(&g->varena, g->val[i], &out->text_len);
        break;
    case MEL__V_INT:
        out->kind = MEL_VALUE_INT;
        out->i = (int64_t)g->val[i];
        break;
    case MEL__V_BOOL:
        out->kind = MEL_VALUE_BOOL;
        out->i = (int64_t)g->val[i];
        break;
    case MEL__V_NULL:
        out->kind = MEL_VALUE_NULL;
        break;
    default:
        break;
    }
}

const uint32_t *mel_graph_children(const mel_graph *g, uint32_t i, uint32_t *n)
{
    if (i >= mel__nodes(g)) {
        *n = 0;
        return NULL;
    }
    return mel__children(g, i, n);
}

const uint32_t *mel_graph_parents(const mel_graph *g, uint32_t i, uint32_t *n)
{
    if (!g->has_parents || i >= mel__nodes(g)) {
        *n = 0;
        return NULL;
    }
    *n = g->poff[i + 1] - g->poff[i];
    return g->pdst + g->poff[i];
}

int mel_graph_has_parents(const mel_graph *g) { return g->has_parents; }

size_t mel_graph_root_count(const mel_graph *g) { return g->nroots; }

int mel_graph_root(const mel_graph *g, size_t k, const char **kind, const char **name,
                   uint32_t *node)
{
    const mel__root *r;
    if (k >= g->nroots)
        return MEL_EINVAL;
    r = &g->roots[k];
    if (kind)
        *kind = g->strs.p + r->kind_off;
    if (name)
        *name = r->name_off == UINT64_MAX ? NULL : g->strs.p + r->name_off;
    if (node)
        *node = r->node;
    return MEL_OK;
}

uint64_t mel_graph_root_address(const mel_graph *g, size_t k)
{
    return k < g->nroots ? g->roots[k].address : 0;
}

/* ---------------------------------------------------------------------
 * Mutation
 * ------------------------------------------------------------------- */

int mel__set_size(struct mel_graph *g, uint32_t i, uint64_t size)
{
    if (size < MEL__SIZE_SIDE) {
        g->size32[i] = (uint32_t)size;
        return MEL_OK;
    }
    if (sparse_set(g->alloc, &g->size_side, i, size))
        return MEL_ENOMEM;
    g->size32[i] = MEL__SIZE_SIDE;
    return MEL_OK;
}

int mel__set_len(struct mel_graph *g, uint32_t i, int64_t len)
{
    if (len < 0) {
        g->len32[i] = MEL__LEN_NONE;
        return MEL_OK;
    }
    if ((uint64_t)len < MEL__LEN_SIDE) {
        g->len32[i] = (uint32_t)len;
        return MEL_OK;
    }
    if (sparse_set(g->alloc, &g->len_side, i, (uint64_t)len))
        return MEL_ENOMEM;
    g->len32[i] = MEL__LEN_SIDE;
    return MEL_OK;
}

int mel__set_kv(struct mel_graph *g, uint32_t i, uint64_t kv)
{
    if (kv < MEL__KV_SIDE) {
        g->kv16[i] = (uint16_t)kv;
        return MEL_OK;
    }
    if (sparse_set(g->alloc, &g->kv_side, i, kv))
        return MEL_ENOMEM;
    g->kv16[i] = MEL__KV_SIDE;
    return MEL_OK;
}

void mel_graph_set_size(mel_graph *g, uint32_t i, uint64_t size)
{
    if (i >= mel__nodes(g))
        return;
    if (mel__set_size(g, i, size))
        g->size32[i] = MEL__SIZE_SIDE - 1; /* out of memory: saturate */
    mel__graph_invalidate(g);
}

void mel_graph_set_type(mel_graph *g, uint32_t i, uint32_t type_id)
{
    if (i < mel__nodes(g) && type_id < g->ntypes)
        g->type[i] = type_id;
}

static void set_vkind(struct mel_graph *g, uint32_t i, unsigned k)
{
    g->flags[i] = (uint8_t)((g->flags[i] & ~MEL__F_VMASK) | (k << MEL__F_VSHIFT));
}

int mel_graph_set_value_text(mel_graph *g, uint32_t i, const char *utf8, size_t len)
{
    uint64_t off;
    int rc;

    if (i >= mel__nodes(g) || (!utf8 && len))
        return MEL_EINVAL;
    rc = mel__arena_put_text(g->alloc, &g->varena, utf8, len, &off);
    if (rc)
        return rc;
    g->val[i] = off;
    set_vkind(g, i, MEL__V_TEXT);
    return MEL_OK;
}

int mel_graph_set_value_int(mel_graph *g, uint32_t i, int64_t v)
{
    if (i >= mel__nodes(g))
        return MEL_EINVAL;
    g->val[i] = (uint64_t)v;
    set_vkind(g, i, MEL__V_INT);
    return MEL_OK;
}

void mel_graph_clear_value(mel_graph *g, uint32_t i)
{
    if (i >= mel__nodes(g))
        return;
    g->val[i] = 0;
    set_vkind(g, i, MEL__V_NONE);
}

/* Appends n edges to cdst.  *start gets their offset.  0, MEL_ENOMEM or
 * MEL_ELIMIT (more than 2^32-1 edges). */
static int cdst_append(struct mel_graph *g, const uint32_t *src, uint32_t n, uint32_t *start)
{
    if (g->ncdst + n > UINT32_MAX)
        return MEL_ELIMIT;
    if (g->ncdst + n > g->cdst_cap) {
        uint64_t ncap = g->cdst_cap ? g->cdst_cap : 64;
        uint32_t *p;
        while (ncap < g->ncdst + n)
            ncap *= 2;
        if (ncap > UINT32_MAX)
            ncap = UINT32_MAX;
        p = mel__realloc(g->alloc, g->cdst, (size_t)g->cdst_cap * sizeof *p,
                         (size_t)ncap * sizeof *p);
        if (!p)
            return MEL_ENOMEM;
        g->cdst = p;
        g->cdst_cap = ncap;
    }
    if (n)
        memcpy(g->cdst + g->ncdst, src, (size_t)n * sizeof *src);
    *start = (uint32_t)g->ncdst;
    g->ncdst += n;
    return MEL_OK;
}

int mel_graph_set_children(mel_graph *g, uint32_t i, const uint32_t *children, uint32_t n)
{
    uint32_t nn = mel__nodes(g), k, start, oldn;
    const uint32_t *old;
    int rc;

    if (i >= g->n || (!children && n))
        return MEL_EINVAL;
    for (k = 0; k < n; k++)
        if (children[k] >= nn)
            return MEL_EINVAL;
    mel__graph_invalidate(g);
    old = mel__children(g, i, &oldn);
    if (n <= oldn && !(g->flags[i] & MEL__F_RELOC) && n == oldn) {
        memmove((uint32_t *)old, children, (size_t)n * sizeof *children);
        return MEL_OK;
    }
    if (!g->rstart) {
        g->rstart = mel__calloc(g->alloc, g->cap ? g->cap : 1, sizeof *g->rstart);
        g->rcount = mel__calloc(g->alloc, g->cap ? g->cap : 1, sizeof *g->rcount);
        if (!g->rstart || !g->rcount) {
            mel__free(g->alloc, g->rstart, 0);
            mel__free(g->alloc, g->rcount, 0);
            g->rstart = g->rcount = NULL;
            return MEL_ENOMEM;
        }
    }
    /* children may point into cdst itself: cdst_append copies before any
     * reallocation would matter only if it aliases, so copy through a buffer
     * when it does. */
    if (n && children >= g->cdst && children < g->cdst + g->ncdst) {
        uint32_t *tmp = mel__malloc(g->alloc, (size_t)n * sizeof *tmp);
        if (!tmp)
            return MEL_ENOMEM;
        memcpy(tmp, children, (size_t)n * sizeof *tmp);
        rc = cdst_append(g, tmp, n, &start);
        mel__free(g->alloc, tmp, (size_t)n * sizeof *tmp);
    } else {
        rc = cdst_append(g, children, n, &start);
    }
    if (rc)
        return rc;
    g->rstart[i] = start;
    g->rcount[i] = n;
    g->flags[i] |= MEL__F_RELOC;
    return MEL_OK;
}

int mel__graph_compact(struct mel_graph *g)
{
    uint32_t nn = mel__nodes(g), i, cnt;
    uint64_t total = 0;
    uint32_t *ncoff = NULL, *ndst = NULL;

    if (!g->rstart)
        return MEL_OK;
    for (i = 0; i < nn; i++) {
        mel__children(g, i, &cnt);
        total += cnt;
    }
    ncoff = mel__malloc(g->alloc, ((size_t)g->cap + 1) * sizeof *ncoff);
    ndst = mel__malloc(g->alloc, (size_t)(total ? total : 1) * sizeof *ndst);
    if (!ncoff || !ndst) {
        mel__free(g->alloc, ncoff, 0);
        mel__free(g->alloc, ndst, 0);
        return MEL_ENOMEM;
    }
    total = 0;
    for (i = 0; i < nn; i++) {
        const uint32_t *c = mel__children(g, i, &cnt);
        ncoff[i] = (uint32_t)total;
        if (cnt)
            memcpy(ndst + total, c, (size_t)cnt * sizeof *c);
        total += cnt;
        g->flags[i] &= (uint8_t)~MEL__F_RELOC;
    }
    ncoff[nn] = (uint32_t)total;
    mel__free(g->alloc, g->coff, 0);
    mel__free(g->alloc, g->cdst, 0);
    mel__free(g->alloc, g->rstart, 0);
    mel__free(g->alloc, g->rcount, 0);
    g->rstart = g->rcount = NULL;
    g->coff = ncoff;
    g->cdst = ndst;
    g->ncdst = total;
    g->cdst_cap = total ? total : 1;
    return MEL_OK;
}

int mel_graph_delete(mel_graph *g, uint32_t i)
{
    if (i >= g->n || !mel__live(g, i))
        return MEL_EINVAL;
    mel__graph_invalidate(g);
    g->flags[i] |= MEL_NODE_DELETED;
    g->ndeleted++;
    return MEL_OK;
}

void mel__reverse_u32(uint32_t *a, uint32_t n)
{
    uint32_t i, t;
    for (i = 0; i < n / 2; i++) {
        t = a[i];
        a[i] = a[n - 1 - i];
        a[n - 1 - i] = t;
    }
}

/* Rotates a[0..n) left by k (0 <= k <= n) in place. */
static void rotate_left(uint32_t *a, uint32_t n, uint32_t k)
{
    if (k == 0 || k == n)
        return;
    mel__reverse_u32(a, k);
    mel__reverse_u32(a + k, n - k);
    mel__reverse_u32(a, n);
}

#define SHIFT_UP(arr, from, to)                                                       \
    memmove((arr) + (from) + 1, (arr) + (from), (size_t)((to) - (from)) * sizeof *(arr))

int mel_graph_add(mel_graph *g, uint64_t address, uint32_t type_id, uint64_t size,
                  uint32_t *out_index)
{
    uint32_t j = mel__find(g, address), nn = mel__nodes(g), r = g->n, end, k, im;
    uint32_t *map = NULL, *npoff = NULL, *npdst = NULL, nnew, x;
    uint64_t e, h, nslots;
    size_t q;
    int rc, had_parents = g->has_parents;
    uint8_t jflags;

    if (type_id >= g->ntypes)
        return MEL_EINVAL;
    if (j != MEL_NONE && j < g->n)
        return MEL_EINVAL;
    /* every allocation first, so a failure leaves the graph unchanged */
    rc = mel__graph_reserve(g, nn + 1);
    if (!rc && index_full(g, nn))
        rc = mel__index_rebuild(g, (nn + 1) * 2);
    if (!rc && size >= MEL__SIZE_SIDE && g->size_side.n == g->size_side.cap)
        rc = sparse_set(g->alloc, &g->size_side, UINT32_MAX, 0); /* grows; removed below */
    if (rc)
        return rc;
    if (g->size_side.n && g->size_side.idx[g->size_side.n - 1] == UINT32_MAX)
        g->size_side.n--;
    nnew = j != MEL_NONE ? nn : nn + 1;
    if (g->nmissing) {
        map = mel__malloc(g->alloc, (size_t)g->nmissing * sizeof *map);
        if (!map)
            return MEL_ENOMEM;
    }
    if (had_parents) {
        /* Parents are rebuilt from the current children before anything
         * changes; the new record has no children and no record moves, so
         * only the node order of the lists changes afterwards. */
        if (mel__parents_build(g, g->max_parents, nnew - nn, &npoff, &npdst)) {
            mel__free(g->alloc, map, 0);
            return MEL_ENOMEM;
        }
    }
    mel__graph_invalidate(g);
    jflags = j != MEL_NONE ? g->flags[j] : 0;
    /* Missing nodes [n, end) move up one slot; the new record takes slot n. */
    end = j != MEL_NONE ? j : nn;
    for (k = 0; k < g->nmissing; k++) {
        uint32_t old = g->n + k;
        map[k] = old == j ? r : (old < end ? old + 1 : old);
    }
    SHIFT_UP(g->addr, r, end);
    SHIFT_UP(g->type, r, end);
    SHIFT_UP(g->size32, r, end);
    SHIFT_UP(g->len32, r, end);
    SHIFT_UP(g->kv16, r, end);
    SHIFT_UP(g->flags, r, end);
    SHIFT_UP(g->val, r, end);
    if (g->rstart) {
        SHIFT_UP(g->rstart, r, end);
        SHIFT_UP(g->rcount, r, end);
    }
    if (j == MEL_NONE)
        g->coff[nn + 1] = g->coff[nn];
    /* Missing nodes never own children, so coff[r..] all equal coff[r]. */
    sparse_remap(&g->size_side, r, map);
    sparse_remap(&g->len_side, r, map);
    sparse_remap(&g->kv_side, r, map);
    for (e = 0; e < g->ncdst; e++)
        if (g->cdst[e] >= r)
            g->cdst[e] = map[g->cdst[e] - r];
    for (q = 0; q < g->nroots; q++)
        if (g->roots[q].node != MEL_NONE && g->roots[q].node >= r)
            g->roots[q].node = map[g->roots[q].node - r];
    /* the address index: renumber moved nodes in place, keep fingerprints */
    im = idx_mask(g->hidxbits);
    nslots = (uint64_t)1 << g->hbits;
    for (h = 0; h < nslots; h++) {
        uint32_t s = g->hslots[h];
        if (s && (s & im) - 1 >= r)
            g->hslots[h] = (s & ~im) | (map[(s & im) - 1 - r] + 1);
    }
    g->addr[r] = address;
    g->type[r] = type_id;
    g->len32[r] = MEL__LEN_NONE;
    g->kv16[r] = 0;
    g->flags[r] = (uint8_t)(jflags & MEL_NODE_ROOT);
    g->val[r] = 0;
    if (g->rstart) {
        g->rstart[r] = 0;
        g->rcount[r] = 0;
    }
    g->size32[r] = 0;
    g->n++;
    if (j != MEL_NONE)
        g->nmissing--;
    mel__free(g->alloc, map, 0);
    if (j == MEL_NONE)
        mel__index_insert(g, r); /* cannot allocate: capacity ensured above */
    mel__set_size(g, r, size); /* cannot allocate: capacity ensured above */
    if (out_index)
        *out_index = r;
    if (had_parents) {
        /* j == MEL_NONE: an empty list at r, later nodes shift up one.
         * Otherwise j's list moves in front of those of r .. j-1. */
        if (j == MEL_NONE) {
            memmove(npoff + r + 1, npoff + r, ((size_t)nn + 1 - r) * sizeof *npoff);
        } else {
            uint32_t base = npoff[r], lenj = npoff[j + 1] - npoff[j];
            rotate_left(npdst + base, npoff[j + 1] - base, npoff[j] - base);
            for (x = j; x > r; x--)
                npoff[x] = npoff[x - 1] + lenj;
        }
        mel__free(g->alloc, g->poff, ((size_t)nn + 1) * sizeof *g->poff);
        mel__free(g->alloc, g->pdst, 0);
        g->poff = npoff;
        g->pdst = npdst;
    }
    return MEL_OK;
}

/* ---------------------------------------------------------------------
 * Memory and invariants
 * ------------------------------------------------------------------- */

size_t mel_graph_memory(const mel_graph *g)
{
    size_t m = sizeof *g;
    size_t per = sizeof(uint64_t) * 2 + sizeof(uint32_t) * 3 + sizeof(uint16_t) + 1;

    m += (size_t)g->cap * per + ((size_t)g->cap + 1) * sizeof(uint32_t);
    if (g->rstart)
        m += (size_t)g->cap * 2 * sizeof(uint32_t);
    m += (size_t)g->cdst_cap * sizeof(uint32_t);
    if (g->has_parents)
        m += ((size_t)mel__nodes(g) + 1 + g->poff[mel__nodes(g)]) * sizeof(uint32_t);
    if (g->hslots)
        m += ((size_t)1 << g->hbits) * sizeof(uint32_t);
    m += (size_t)g->types_cap * sizeof(mel__type) + (sizeof(uint32_t) << g->thbits);
    m += g->strs.cap + g->varena.cap + g->nroots * sizeof(mel__root);
    m += (g->size_side.cap + g->len_side.cap + g->kv_side.cap) * 12;
    return m;
}

int mel__graph_check(const struct mel_graph *g, mel_error *err)
{
    uint32_t nn = mel__nodes(g), i, k, c, del = 0;

    for (i = 0; i < nn; i++) {
        const uint32_t *ch = mel__children(g, i, &c);
        if (!(g->flags[i] & MEL__F_RELOC) && g->coff[i] > g->coff[i + 1])
            return mel__fail(err, MEL_EINVAL, "coff not monotone at node %u", i);
        for (k = 0; k < c; k++)
            if (ch[k] >= nn)
                return mel__fail(err, MEL_EINVAL, "child %u of node %u out of range", k, i);
        if (g->type[i] >= g->ntypes)
            return mel__fail(err, MEL_EINVAL, "type of node %u out of range", i);
        if (mel__find(g, g->addr[i]) != i)
            return mel__fail(err, MEL_EINVAL, "address index wrong for node %u", i);
        if ((i < g->n) == !!(g->flags[i] & MEL_NODE_MISSING))
            return mel__fail(err, MEL_EINVAL, "missing flag wrong for node %u", i);
        if (i >= g->n && c)
            return mel__fail(err, MEL_EINVAL, "missing node %u has children", i);
        if (g->flags[i] & MEL_NODE_DELETED)
            del++;
    }
    if (del != g->ndeleted)
        return mel__fail(err, MEL_EINVAL, "deleted count %u != %u", del, g->ndeleted);
    if (g->has_parents) {
        for (i = 0; i < nn; i++) {
            if (g->poff[i] > g->poff[i + 1])
                return mel__fail(err, MEL_EINVAL, "poff not monotone at node %u", i);
            for (k = g->poff[i]; k < g->poff[i + 1]; k++) {
                if (g->pdst[k] >= nn)
                    return mel__fail(err, MEL_EINVAL, "parent of node %u out of range", i);
                if (k > g->poff[i] && g->pdst[k] <= g->pdst[k - 1])
                    return mel__fail(err, MEL_EINVAL, "parents of %u not increasing", i);
            }
        }
    }
    return MEL_OK;
}
