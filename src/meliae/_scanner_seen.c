/*
 * _scanner_seen.c - the scanner's seen-set: which objects were already
 * written (or queued) during one walk.
 *
 * Objects are at least 8-byte aligned, and CPython's allocators place them
 * densely, so one bit per 8 bytes of address space in 512 KiB regions costs
 * about heap_bytes / 64 (a 1 GiB heap: 16 MiB).  Regions are found through
 * an open-addressing table keyed by address >> 19, with a one-entry cache
 * for the last region used (consecutive objects share regions).  Addresses
 * that are not 8-byte aligned (never seen in practice, handled for
 * correctness) go to a plain open-addressing hash set.
 */
#include "_scanner.h"

#define REGION_SHIFT 19u                      /* 512 KiB of address space */
#define REGION_WORDS ((1u << REGION_SHIFT) / 8u / 64u) /* 1024 uint64: 8 KiB */

typedef struct region {
    uintptr_t key; /* address >> REGION_SHIFT, plus 1 so 0 means empty */
    uint64_t *bits;
} region;

struct mel_seen {
    region *regions;    /* owned, nregions_cap slots */
    size_t nregions;
    size_t nregions_cap; /* power of two */
    region *last;        /* cache: the region used last (points into regions) */
    uintptr_t *odd;      /* owned: unaligned addresses, 0 = empty slot */
    size_t nodd;
    size_t nodd_cap;     /* power of two or 0 */
};

static size_t hash_key(uintptr_t k)
{
    uint64_t x = (uint64_t)k * 0x9e3779b97f4a7c15ull;
    return (size_t)(x ^ (x >> 29));
}

mel_seen *mel_seen_new(void)
{
    mel_seen *s = PyMem_RawCalloc(1, sizeof *s);

    if (!s)
        return NULL;
    s->nregions_cap = 64;
    s->regions = PyMem_RawCalloc(s->nregions_cap, sizeof(region));
    if (!s->regions) {
        PyMem_RawFree(s);
        return NULL;
    }
    return s;
}

void mel_seen_free(mel_seen *s)
{
    size_t i;

    if (!s)
        return;
    for (i = 0; i < s->nregions_cap; i++)
        PyMem_RawFree(s->regions[i].bits);
    PyMem_RawFree(s->regions);
    PyMem_RawFree(s->odd);
    PyMem_RawFree(s);
}

size_t mel_seen_memory(const mel_seen *s)
{
    return sizeof *s + s->nregions_cap * sizeof(region) +
           s->nregions * REGION_WORDS * sizeof(uint64_t) + s->nodd_cap * sizeof(uintptr_t);
}

/* Finds the slot for key in a table of cap slots (cap a power of two). */
static region *region_slot(region *tab, size_t cap, uintptr_t key)
{
    size_t i = hash_key(key) & (cap - 1);

    while (tab[i].key != 0 && tab[i].key != key)
        i = (i + 1) & (cap - 1);
    return &tab[i];
}

/* Doubles the region table.  Returns 0 or -1 on ENOMEM. */
static int regions_grow(mel_seen *s)
{
    size_t ncap = s->nregions_cap * 2, i;
    region *nt = PyMem_RawCalloc(ncap, sizeof(region));

    if (!nt)
        return -1;
    for (i = 0; i < s->nregions_cap; i++) {
        if (s->regions[i].key)
            *region_slot(nt, ncap, s->regions[i].key) = s->regions[i];
    }
    PyMem_RawFree(s->regions);
    s->regions = nt;
    s->nregions_cap = ncap;
    s->last = NULL;
    return 0;
}

static int odd_add(mel_seen *s, uintptr_t addr)
{
    size_t i;

    if (addr == 0)
        return 0;
    if (s->nodd_cap == 0 || (s->nodd + 1) * 2 > s->nodd_cap) {
        size_t ncap = s->nodd_cap ? s->nodd_cap * 2 : 64, j;
        uintptr_t *nt = PyMem_RawCalloc(ncap, sizeof(uintptr_t));
        if (!nt)
            return -1;
        for (j = 0; j < s->nodd_cap; j++) {
            if (s->odd[j]) {
                size_t k = hash_key(s->odd[j]) & (ncap - 1);
                while (nt[k])
                    k = (k + 1) & (ncap - 1);
                nt[k] = s->odd[j];
            }
        }
        PyMem_RawFree(s->odd);
        s->odd = nt;
        s->nodd_cap = ncap;
    }
    i = hash_key(addr) & (s->nodd_cap - 1);
    while (s->odd[i]) {
        if (s->odd[i] == addr)
            return 0;
        i = (i + 1) & (s->nodd_cap - 1);
    }
    s->odd[i] = addr;
    s->nodd++;
    return 1;
}

static int odd_contains(const mel_seen *s, uintptr_t addr)
{
    size_t i;

    if (s->nodd_cap == 0)
        return 0;
    i = hash_key(addr) & (s->nodd_cap - 1);
    while (s->odd[i]) {
        if (s->odd[i] == addr)
            return 1;
        i = (i + 1) & (s->nodd_cap - 1);
    }
    return 0;
}

int mel_seen_add(mel_seen *s, uintptr_t addr)
{
    uintptr_t key = (addr >> REGION_SHIFT) + 1;
    size_t bit = (addr & ((1u << REGION_SHIFT) - 1)) >> 3;
    region *r = s->last;
    uint64_t mask;

    if (addr & 7)
        return odd_add(s, addr);
    if (!r || r->key != key) {
        r = region_slot(s->regions, s->nregions_cap, key);
        if (r->key == 0) {
            if ((s->nregions + 1) * 2 > s->nregions_cap) {
                if (regions_grow(s) < 0)
                    return -1;
                r = region_slot(s->regions, s->nregions_cap, key);
            }
            r->bits = PyMem_RawCalloc(REGION_WORDS, sizeof(uint64_t));
            if (!r->bits)
                return -1;
            r->key = key;
            s->nregions++;
        }
        s->last = r;
    }
    mask = (uint64_t)1 << (bit & 63);
    if (r->bits[bit >> 6] & mask)
        return 0;
    r->bits[bit >> 6] |= mask;
    return 1;
}

int mel_seen_contains(const mel_seen *s, uintptr_t addr)
{
    uintptr_t key = (addr >> REGION_SHIFT) + 1;
    size_t bit = (addr & ((1u << REGION_SHIFT) - 1)) >> 3;
    const region *r;

    if (addr & 7)
        return odd_contains(s, addr);
    r = region_slot(s->regions, s->nregions_cap, key);
    if (r->key == 0)
        return 0;
    return (r->bits[bit >> 6] >> (bit & 63)) & 1;
}
