/*
 * graph_internal.h - the layout of struct mel_graph, shared by the engine's
 * graph, loader and analysis translation units.  Not installed.
 *
 * The graph is a struct of arrays indexed by a dense u32 node index:
 *   0 .. n-1            records, in file order
 *   n .. n+nmissing-1   "missing" nodes: addresses referenced but absent
 * Children and parents are CSR arrays of u32 node indexes.  Analyses may read
 * every field below directly (tight loops); only graph.c, the loader
 * (reader.c), parents.c and collapse.c write them.
 */
#ifndef MEL_GRAPH_INTERNAL_H
#define MEL_GRAPH_INTERNAL_H

#include "mel_internal.h"

#include <stddef.h>
#include <stdint.h>

/* flags[] bits beyond the public enum mel_node_flags (bits 0-3). */
#define MEL__F_PUBLIC 0x0fu
#define MEL__F_RELOC 0x10u      /* children live at rstart/rcount, not coff */
#define MEL__F_VSHIFT 5         /* value kind in bits 5-7 */
#define MEL__F_VMASK 0xe0u

/* Value kinds as stored in flags bits 5-7. */
enum mel__vkind {
    MEL__V_NONE = 0,
    MEL__V_TEXT = 1, /* val[i] = offset into varena: varint length, bytes */
    MEL__V_INT = 2,  /* val[i] = (uint64_t)int64 */
    MEL__V_BOOL = 3, /* val[i] = 0 / 1 */
    MEL__V_NULL = 4,
    MEL__V_NAME = 5  /* like TEXT, came from "name" */
};

/* Escapes in the narrow per-node arrays: the real value is in a side map. */
#define MEL__SIZE_SIDE UINT32_MAX     /* size32[i]: look in size_side */
#define MEL__LEN_NONE UINT32_MAX      /* len32[i]: no "len" */
#define MEL__LEN_SIDE (UINT32_MAX - 1)/* len32[i]: look in len_side */
#define MEL__KV_SIDE UINT16_MAX       /* kv16[i]: look in kv_side */

/* Sparse map node index -> u64, kept sorted by index (binary search). */
typedef struct mel__sparse {
    uint32_t *idx; /* owned, [n], strictly increasing */
    uint64_t *val; /* owned, [n] */
    size_t n, cap;
} mel__sparse;

/* A growable byte arena.  Offsets stay valid when it grows. */
typedef struct mel__arena {
    char *p;       /* owned */
    size_t n, cap;
} mel__arena;

/* One interned type (display) name. */
typedef struct mel__type {
    uint64_t name_off; /* into g->strs: bytes, NUL-terminated */
    uint32_t name_len;
    uint32_t hnext;    /* next type id in the same name-hash bucket, MEL_NONE ends */
} mel__type;

/* One header root marker. */
typedef struct mel__root {
    uint64_t kind_off; /* into g->strs, NUL-terminated */
    uint64_t name_off; /* into g->strs, NUL-terminated; UINT64_MAX = no name */
    uint64_t address;
    uint32_t node;     /* resolved node (record or missing), MEL_NONE if none */
} mel__root;

struct mel_graph {
    /* Allocator used for every array below (copied; has_alloc = 0 -> libc). */
    mel_allocator alloc_copy;
    int has_alloc;
    const mel_allocator *alloc; /* &alloc_copy or NULL */

    uint32_t n;         /* records (count()) */
    uint32_t nmissing;  /* missing nodes after the records */
    uint32_t ndeleted;  /* records flagged MEL_NODE_DELETED */
    uint32_t cap;       /* capacity (elements) of every per-node array */

    /* Per-node arrays, [n + nmissing] valid, [cap] allocated. */
    uint64_t *addr;     /* address; unique among all nodes */
    uint32_t *type;     /* type id < ntypes; missing nodes: the "<missing>" type */
    uint32_t *size32;   /* size, or MEL__SIZE_SIDE -> size_side */
    uint32_t *len32;    /* "len", MEL__LEN_NONE, or MEL__LEN_SIDE -> len_side */
    uint16_t *kv16;     /* "kv" pairs, or MEL__KV_SIDE -> kv_side */
    uint8_t *flags;     /* mel_node_flags | MEL__F_RELOC | value kind << 5 */
    uint64_t *val;      /* value payload (see enum mel__vkind) */
    mel__sparse size_side, len_side, kv_side;
    mel__arena varena;  /* text values: LEB128 length, then UTF-8 bytes */

    /* Children, CSR: node i's children are cdst[coff[i] .. coff[i+1]) unless
     * flags[i] & MEL__F_RELOC, then cdst[rstart[i] .. rstart[i]+rcount[i]).
     * coff has n + nmissing + 1 entries; edges may include indexes of missing
     * and deleted nodes.  Use mel__children() to read them. */
    uint32_t *coff;
    uint32_t *cdst;
    uint64_t ncdst;     /* used entries of cdst (>= coff[n+nmissing]) */
    uint64_t cdst_cap;
    uint32_t *rstart;   /* NULL until a node is relocated; [cap] */
    uint32_t *rcount;   /* NULL until a node is relocated; [cap] */

    /* Parents, CSR (de-duplicated, capped), valid when has_parents:
     * node i's parents are pdst[poff[i] .. poff[i+1]), in file order. */
    int has_parents;
    int64_t max_parents; /* cap used by the last compute_parents */
    uint32_t *poff;      /* [n + nmissing + 1] */
    uint32_t *pdst;

    /* Address index: open addressing, linear probing over 1 << hbits u32
     * slots.  A slot is 0 (empty) or (fingerprint << hidxbits) | (node + 1):
     * the low hidxbits bits hold the node index + 1, the high bits a few
     * bits of the address hash, so most mismatches are rejected without
     * reading addr[].  Use mel__find() to look up. */
    uint32_t *hslots;
    uint32_t hbits;      /* 1 << hbits slots */
    uint32_t hidxbits;   /* bits of a slot holding node + 1 (<= 32) */

    /* Types: ids 0 .. ntypes-1; names in strs.  A small chained hash maps a
     * name to its id. */
    mel__type *types;
    uint32_t ntypes, types_cap;
    uint32_t *thash;     /* [1 << thbits] bucket heads, MEL_NONE = empty */
    uint32_t thbits;
    uint32_t missing_type; /* id of "<missing>" */
    mel__arena strs;     /* type names, root kinds/names */

    mel__root *roots;
    size_t nroots;

    /* Owned by the analysis code (dominators, paths ...).  analysis_free is
     * called, when non-NULL, by mel_graph_free and before every structural
     * change (children, node set); it frees and NULLs g->analysis. */
    void *analysis;
    void (*analysis_free)(struct mel_graph *g);
};

/* Total node slots (records + missing). */
#if defined(__GNUC__)
#define MEL_PREFETCH(p) __builtin_prefetch(p)
#else
#define MEL_PREFETCH(p) ((void)0)
#endif

static inline uint32_t mel__nodes(const struct mel_graph *g)
{
    return g->n + g->nmissing;
}

/* Children of node i (any node < mel__nodes(g)); *n gets the count. */
static inline const uint32_t *mel__children(const struct mel_graph *g, uint32_t i, uint32_t *n)
{
    if (MEL_UNLIKELY(g->flags[i] & MEL__F_RELOC)) {
        *n = g->rcount[i];
        return g->cdst + g->rstart[i];
    }
    *n = g->coff[i + 1] - g->coff[i];
    return g->cdst + g->coff[i];
}

/* Nonzero if node i is a live record (not missing, not deleted). */
static inline int mel__live(const struct mel_graph *g, uint32_t i)
{
    return (g->flags[i] & (MEL_NODE_DELETED | MEL_NODE_MISSING)) == 0;
}

/* The address hash: the top bits pick the slot, the low bits make the
 * fingerprint. */
static inline uint64_t mel__mix_addr(uint64_t a)
{
    a ^= a >> 29;
    a *= 0x9E3779B97F4A7C15ull;
    return a ^ (a >> 32);
}

static inline uint64_t mel__hash_addr(uint64_t a, uint32_t bits)
{
    return mel__mix_addr(a) >> (64 - bits);
}

/* --- graph.c --------------------------------------------------------- */

/* Creates an empty graph with the "<missing>" type interned.  0 or MEL_ENOMEM. */
int mel__graph_new(const mel_allocator *alloc, struct mel_graph **out);
/* Grows every per-node array to hold at least want nodes.  0 or MEL_ENOMEM. */
int mel__graph_reserve(struct mel_graph *g, uint32_t want);
/* Gives back unused capacity of the per-node arrays and the value arena
 * (after loading), with the libc allocator only.  Never fails: a block that
 * cannot shrink stays as it is. */
void mel__graph_shrink(struct mel_graph *g);
/* Interns a type name (exact bytes); MEL_NONE on ENOMEM. */
uint32_t mel__type_intern(struct mel_graph *g, const char *name, size_t len);
/* Finds a node (record, missing or deleted) by address; MEL_NONE if absent. */
uint32_t mel__find(const struct mel_graph *g, uint64_t address);
/* Inserts node i (addr[i] set) into the address index, growing it as needed.
 * Does not check for duplicates.  0 or MEL_ENOMEM. */
int mel__index_insert(struct mel_graph *g, uint32_t i);
/* Inserts node i unless another node has the same address: returns 0 when
 * inserted, 1 for a duplicate (nothing changed), or MEL_ENOMEM. */
int mel__index_insert_new(struct mel_graph *g, uint32_t i);
/* Builds the address index from scratch over every node, keeping the first
 * of nodes that share an address: later ones are flagged MEL__F_RELOC (a
 * loader-only use of that bit) and counted in *ndup.  0 or MEL_ENOMEM. */
int mel__index_build(struct mel_graph *g, uint32_t *ndup);
/* Rebuilds the address index for all nodes, sized for at least want nodes. */
int mel__index_rebuild(struct mel_graph *g, uint32_t want);
/* Side-table aware setters/getters. */
int mel__set_size(struct mel_graph *g, uint32_t i, uint64_t size);
int mel__set_len(struct mel_graph *g, uint32_t i, int64_t len);
int mel__set_kv(struct mel_graph *g, uint32_t i, uint64_t kv);
/* Appends src's entries to dst with shift added to each index (every
 * shifted index must exceed dst's last).  0 or MEL_ENOMEM (dst unchanged). */
int mel__sparse_append(const mel_allocator *a, mel__sparse *dst, const mel__sparse *src,
                       uint32_t shift);
/* Appends a text value to varena; *off gets its offset.  0 or MEL_ENOMEM. */
int mel__arena_put_text(const mel_allocator *a, mel__arena *ar, const char *s, size_t len,
                        uint64_t *off);
/* Reads a text value stored at off. */
const char *mel__arena_text(const mel__arena *ar, uint64_t off, size_t *len);
/* Ensures ar has room for extra more bytes.  0 or MEL_ENOMEM. */
int mel__arena_reserve(const mel_allocator *a, mel__arena *ar, size_t extra);
/* Appends bytes plus a NUL to strs; *off gets the offset.  0 or MEL_ENOMEM. */
int mel__strs_put(struct mel_graph *g, const char *s, size_t len, uint64_t *off);
/* Lays every node's children out in node order again (drops relocations).
 * 0 or MEL_ENOMEM (the graph is unchanged on failure). */
int mel__graph_compact(struct mel_graph *g);
/* Releases analysis results (calls analysis_free if set). */
void mel__graph_invalidate(struct mel_graph *g);
/* Drops computed parents. */
void mel__graph_drop_parents(struct mel_graph *g);
/* Reverses a[0..n) in place. */
void mel__reverse_u32(uint32_t *a, uint32_t n);
/* --- parents.c ------------------------------------------------------ */

/* Builds the parents CSR of g's current children (see
 * mel_graph_compute_parents) without installing it: *poff gets
 * nodes + 1 + extra entries (the last extra ones unset), *pdst the lists.
 * Both are allocated with g->alloc and owned by the caller.  0 or
 * MEL_ENOMEM (nothing allocated). */
int mel__parents_build(const struct mel_graph *g, int64_t max_parents, uint32_t extra,
                       uint32_t **poff, uint32_t **pdst);

/* Debug invariant checker: 0 if consistent, else MEL_EINVAL with err->detail
 * naming the broken invariant. */
int mel__graph_check(const struct mel_graph *g, mel_error *err);

#endif
