/*
 * meliae.h - the public interface of libmeliae, the meliae engine.
 *
 * libmeliae writes and reads meliae heap dumps (docs/format.md) and answers
 * questions about the object graph they describe.  It is plain C11 and never
 * includes Python.h: the CPython scanner and the Python binding are clients.
 *
 * Ownership rule (one rule for the whole library):
 *   - Engine functions never take ownership of their arguments.
 *   - Objects returned through *_new / *_open / *_load / *_compute belong to
 *     the caller and are released with the matching *_free.
 *   - Pointers returned by *_get* accessors are borrowed: valid until their
 *     owner is freed or mutated.
 *
 * Error rule: functions return int.  0 is MEL_OK, negative values are MEL_E*
 * codes (mel_strerror() names them).  Functions that fail may fill a
 * caller-provided mel_error with a location.  The engine never prints, never
 * exits and never asserts on input.
 *
 * Sections: 1 common, 2 writer, 3 reader/loader, 4 graph, 5 analyses,
 * 6 selections (the classic loader's whole-graph queries).
 */
#ifndef MELIAE_H
#define MELIAE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) && !defined(MEL_STATIC_BUILD)
#define MEL_API __attribute__((visibility("default")))
#else
#define MEL_API
#endif

/* ======================================================================
 * 1. Common: status codes, errors, allocator
 * ==================================================================== */

#define MEL_FORMAT_NAME "meliae-dump"
#define MEL_FORMAT_MAJOR 2
#define MEL_FORMAT_MINOR 0

enum mel_status {
    MEL_OK = 0,
    MEL_ENOMEM = -1,       /* an allocation failed */
    MEL_EIO = -2,          /* read/write/open failed; mel_error.sys_errno says why */
    MEL_ESYNTAX = -3,      /* a line is not valid JSON */
    MEL_EFIELD = -4,       /* valid JSON, but a field is missing or of the wrong kind */
    MEL_ERANGE = -5,       /* a number does not fit (beyond 64 bits, negative size...) */
    MEL_EVERSION = -6,     /* header names an unknown format major version */
    MEL_EENCODING = -7,    /* invalid UTF-8 or invalid escape */
    MEL_ELIMIT = -8,       /* a line exceeds the reader's maximum line length */
    MEL_EEMPTY = -9,       /* the input holds no object at all */
    MEL_ECOMPRESS = -10,   /* compressed stream corrupt or cut short */
    MEL_ECANCELED = -11,   /* a progress callback asked to stop */
    MEL_EINVAL = -12,      /* bad argument from the caller */
    MEL_ENOTFOUND = -13,   /* no such address / object */
    MEL_EUNSUPPORTED = -14 /* feature not built in (e.g. zstd) */
};

/* Returns a static, never-freed description of a status code. */
MEL_API const char *mel_strerror(int code);

/* Where and why something failed.  msg is static or points into detail. */
typedef struct mel_error {
    int code;             /* MEL_E* */
    int sys_errno;        /* errno for MEL_EIO, else 0 */
    uint64_t line;        /* 1-based line number, 0 if not applicable */
    uint64_t column;      /* 1-based byte column within the line, 0 if n/a */
    uint64_t byte_offset; /* 0-based offset of the error in the (decompressed) stream */
    const char *msg;      /* static description */
    char detail[160];     /* NUL-terminated extra detail (may be empty) */
} mel_error;

/* Optional injected allocator; NULL means libc.  realloc gets the old size. */
typedef struct mel_allocator {
    void *(*malloc)(void *ctx, size_t n);
    void *(*realloc)(void *ctx, void *p, size_t old_n, size_t new_n);
    void (*free)(void *ctx, void *p, size_t n);
    void *ctx;
} mel_allocator;

/* Test hook: an allocator that fails the k-th allocation (k >= 1; 0 never
 * fails) and counts live allocations.  Used by OOM-injection tests. */
typedef struct mel_failing_allocator {
    mel_allocator base;    /* pass &fa.base to engine functions */
    uint64_t fail_at;      /* which allocation fails (1-based), 0 = never */
    uint64_t count;        /* allocations attempted so far */
    int64_t live;          /* allocations not yet freed */
} mel_failing_allocator;
MEL_API void mel_failing_allocator_init(mel_failing_allocator *fa, uint64_t fail_at);

/* ======================================================================
 * 2. Writer: records -> JSON lines (docs/format.md)
 * ==================================================================== */

/* Sink for the writer's output.  Returns 0 on success or a positive errno. */
typedef int (*mel_write_fn)(void *ctx, const void *buf, size_t len);

/* A run of text in one of CPython's storage kinds. */
enum mel_text_kind {
    MEL_TEXT_UTF8 = 0,   /* UTF-8 bytes (C strings: tp_name, ...) */
    MEL_TEXT_LATIN1 = 1, /* one byte per code point */
    MEL_TEXT_UCS2 = 2,   /* uint16_t per code point */
    MEL_TEXT_UCS4 = 4,   /* uint32_t per code point */
    MEL_TEXT_BYTES = 8   /* raw bytes: every byte >= 0x80 written as \u00XX */
};

typedef struct mel_text {
    const void *data;
    size_t len; /* in units of the kind (bytes for UTF8/LATIN1/BYTES) */
    int kind;   /* enum mel_text_kind */
} mel_text;

enum mel_value_kind {
    MEL_VALUE_NONE = 0, /* no "value" key */
    MEL_VALUE_TEXT,     /* "value": "..." (str, bytes, frame code name) */
    MEL_VALUE_INT,      /* "value": 123 */
    MEL_VALUE_BOOL,     /* "value": "True" / "False" (classic) */
    MEL_VALUE_NULL      /* "value": null */
};

enum mel_object_flags {
    MEL_OBJ_STATIC = 1u << 0 /* lives in a static image, not on the heap */
};

/* One object record handed to the writer.  All pointers are borrowed. */
typedef struct mel_object {
    uint64_t address;
    const char *type_name;  /* tp_name, UTF-8, NUL-terminated */
    uint64_t type_address;  /* address of the type object, 0 = unknown */
    uint64_t size;          /* bytes */
    int64_t len;            /* "len" key; < 0 = omitted */
    int value_kind;         /* enum mel_value_kind */
    mel_text value;         /* MEL_VALUE_TEXT: full text; writer truncates */
    int64_t value_int;      /* MEL_VALUE_INT / MEL_VALUE_BOOL (0/1) */
    mel_text name;          /* "name" key if name.data != NULL */
    mel_text qualname;      /* "qualname" key (types: module.QualName) if data != NULL */
    const uint64_t *refs;
    size_t nrefs;
    size_t kv_pairs;        /* "kv" key when > 0: refs[0..2*kv_pairs) are key,value pairs */
    unsigned flags;         /* enum mel_object_flags */
} mel_object;

/* One root marker for the header. */
typedef struct mel_root {
    const char *kind;  /* "modules", "builtins", "thread", "sys", ... (UTF-8) */
    const char *name;  /* human label, UTF-8, may be NULL */
    uint64_t address;
} mel_root;

typedef struct mel_dump_header {
    const char *python_version;  /* "3.11.7" */
    const char *implementation;  /* "CPython" */
    int pointer_size;            /* 8 */
    int gc_head_size;            /* 16 */
    int64_t pid;
    double time;                 /* seconds since the epoch */
    const char *const *argv;
    size_t argc;
    const char *entry_point;     /* "dump_all_objects", ... */
    const mel_root *roots;
    size_t nroots;
} mel_dump_header;

typedef struct mel_writer_options {
    size_t value_limit;   /* max units of text value written; 0 -> default 100,
                             SIZE_MAX -> no truncation (header says null) */
    int omit_values;      /* nonzero: no "value" for text (redacted dumps) */
    size_t buffer_size;   /* 0 -> 256 KiB */
} mel_writer_options;

typedef struct mel_writer mel_writer;

/* Creates a writer that sends its output to fn(ctx, ...).
 *   alloc: allocator for the writer and its buffer; NULL = libc.
 *   fn:    the sink (required); ctx is passed through untouched.
 *   opts:  NULL = defaults (value_limit 100, values on, 256 KiB buffer;
 *          buffers below 64 bytes are raised to 64).
 *   out:   receives the writer, owned by the caller (mel_writer_free).
 * Returns MEL_OK, MEL_EINVAL (out or fn NULL) or MEL_ENOMEM. */
MEL_API int mel_writer_new(const mel_allocator *alloc, mel_write_fn fn, void *ctx,
                           const mel_writer_options *opts, mel_writer **out);
/* Writes the header line.  Call at most once, before any object.
 * Returns MEL_OK, MEL_EINVAL (called twice or after an object) or MEL_EIO
 * (the sink failed, now or before). */
MEL_API int mel_writer_header(mel_writer *w, const mel_dump_header *h);
/* Writes one object line (buffered).  All of o's pointers are borrowed for
 * the duration of the call only.  Returns MEL_OK, MEL_EINVAL (refs NULL with
 * nrefs > 0, or 2*kv_pairs > nrefs) or MEL_EIO (sink failed; sticky). */
MEL_API int mel_writer_object(mel_writer *w, const mel_object *o);
/* Writes the trailer line ({"meliae": "end", ...}) and flushes.
 * Returns MEL_OK or MEL_EIO. */
MEL_API int mel_writer_trailer(mel_writer *w);
/* Flushes buffered bytes to the sink.  Returns MEL_OK or MEL_EIO. */
MEL_API int mel_writer_flush(mel_writer *w);
/* Number of object lines written so far (0 for NULL). */
MEL_API uint64_t mel_writer_count(const mel_writer *w);
/* errno of the first failed sink call, 0 if none; the writer is then
 * sticky-failed: it drops further output and its calls return MEL_EIO. */
MEL_API int mel_writer_errno(const mel_writer *w);
/* Frees the writer without flushing.  NULL is ignored. */
MEL_API void mel_writer_free(mel_writer *w);
/* Makes the trailer say "complete": false (the walk stopped early).  Call
 * before mel_writer_trailer.  NULL is ignored. */
MEL_API void mel_writer_mark_incomplete(mel_writer *w);

/* Writes the JSON string literal for t (with quotes) into buf, truncated to
 * limit units (code points; bytes for MEL_TEXT_BYTES; 0 = no limit).  At
 * most cap-1 bytes are stored and buf is NUL-terminated when cap > 0.
 * Returns the length of the full literal (like snprintf): the output was
 * complete iff the result is < cap.  Never fails; t NULL writes "". */
MEL_API size_t mel_json_escape(const mel_text *t, size_t limit, char *buf, size_t cap);

/* ======================================================================
 * 3. Reader / loader: JSON lines -> graph
 * ==================================================================== */

typedef struct mel_progress {
    uint64_t lines;
    uint64_t objects;
    uint64_t bytes_read;    /* input bytes consumed (compressed bytes for .gz/.zst) */
    uint64_t bytes_total;   /* input size if known, else 0 */
    const char *phase;      /* "loading", "indexing", "parents", "collapse", ... */
} mel_progress;

/* Return nonzero to cancel (the operation then fails with MEL_ECANCELED). */
typedef int (*mel_progress_fn)(void *ctx, const mel_progress *p);

typedef struct mel_load_options {
    const mel_allocator *alloc; /* NULL = libc */
    int strict;                 /* fail on the first bad line */
    size_t max_line;            /* 0 -> 1 GiB */
    mel_progress_fn progress;   /* may be NULL */
    void *progress_ctx;
    uint64_t progress_every;    /* lines between callbacks, 0 -> 65536 */
    const char *source_name;    /* for messages; may be NULL */
} mel_load_options;

/* Facts gathered while loading, beside the graph. */
typedef struct mel_load_report {
    uint64_t lines;            /* lines seen */
    uint64_t objects;          /* records kept */
    uint64_t bad_lines;        /* lines skipped (non-strict) */
    mel_error first_bad;       /* location of the first skipped line */
    uint64_t duplicates;       /* records dropped because the address was seen */
    uint64_t dangling_refs;    /* edges to addresses not in the dump */
    int has_header;
    int has_trailer;           /* 0 -> the dump is truncated (for our format) */
    int trailer_complete;      /* trailer's "complete" flag */
    uint64_t trailer_objects;  /* trailer's "objects" count */
    int classic;               /* no header: a classic Meliae dump */
    int format_major, format_minor;
    char python_version[32];
    int pointer_size;
} mel_load_report;

typedef struct mel_loader mel_loader;
typedef struct mel_graph mel_graph;

/* Incremental loading: feed any chunking of the (decompressed) byte stream. */
MEL_API int mel_loader_new(const mel_load_options *opts, mel_loader **out);
MEL_API int mel_loader_feed(mel_loader *l, const void *buf, size_t len, mel_error *err);
/* Ends the stream and builds the graph (index + children CSR).  On success
 * *out owns the graph; report (optional) is filled either way. */
MEL_API int mel_loader_finish(mel_loader *l, mel_graph **out, mel_load_report *report,
                              mel_error *err);
MEL_API void mel_loader_free(mel_loader *l);

/* Loads a path ("-" = stdin).  Detects gzip and zstd by magic bytes. */
MEL_API int mel_load_path(const char *path, const mel_load_options *opts, mel_graph **out,
                          mel_load_report *report, mel_error *err);
/* Loads from an open file descriptor (pipes welcome); does not close it. */
MEL_API int mel_load_fd(int fd, const mel_load_options *opts, mel_graph **out,
                        mel_load_report *report, mel_error *err);

/* Nonzero if this build reads .zst. */
MEL_API int mel_have_zstd(void);

/* ======================================================================
 * 4. Graph store
 *
 * Objects are numbered densely 0..mel_graph_count()-1 in file order.
 * Indexes count() .. count()+missing()-1 are "missing" nodes: addresses
 * referenced but not present (dangling), type "<missing>", size 0.
 * Deleted records (collapsed dicts) keep their index but are flagged.
 * ==================================================================== */

#define MEL_NONE UINT32_MAX

enum mel_node_flags {
    MEL_NODE_STATIC = 1u << 0,
    MEL_NODE_DELETED = 1u << 1,
    MEL_NODE_MISSING = 1u << 2,
    MEL_NODE_ROOT = 1u << 3   /* named by a root marker in the header */
};

typedef struct mel_value {
    int kind;          /* enum mel_value_kind; TEXT also for names */
    int is_name;       /* came from "name" */
    const char *text;  /* UTF-8 (lone surrogates as WTF-8), borrowed */
    size_t text_len;
    int64_t i;         /* INT / BOOL */
} mel_value;

MEL_API void mel_graph_free(mel_graph *g);
MEL_API uint32_t mel_graph_count(const mel_graph *g);    /* records */
MEL_API uint32_t mel_graph_missing(const mel_graph *g);  /* dangling nodes */
MEL_API uint32_t mel_graph_live(const mel_graph *g);     /* records not deleted */
MEL_API uint32_t mel_graph_lookup(const mel_graph *g, uint64_t address); /* MEL_NONE if absent */
MEL_API uint64_t mel_graph_address(const mel_graph *g, uint32_t i);
MEL_API uint32_t mel_graph_type(const mel_graph *g, uint32_t i);
MEL_API uint32_t mel_graph_type_count(const mel_graph *g);
/* Display name of a type id (bare tp_name unless two types share it: then module-qualified). */
MEL_API const char *mel_graph_type_name(const mel_graph *g, uint32_t type_id, size_t *len);
MEL_API uint32_t mel_graph_type_intern(mel_graph *g, const char *name, size_t len); /* MEL_NONE on ENOMEM */
MEL_API uint64_t mel_graph_size(const mel_graph *g, uint32_t i);
MEL_API int64_t mel_graph_len(const mel_graph *g, uint32_t i);   /* -1 if none */
MEL_API unsigned mel_graph_flags(const mel_graph *g, uint32_t i);
MEL_API uint32_t mel_graph_kv_pairs(const mel_graph *g, uint32_t i);
MEL_API void mel_graph_value(const mel_graph *g, uint32_t i, mel_value *out);
MEL_API const uint32_t *mel_graph_children(const mel_graph *g, uint32_t i, uint32_t *n);
/* Parents exist after mel_graph_compute_parents(); else *n = 0. */
MEL_API const uint32_t *mel_graph_parents(const mel_graph *g, uint32_t i, uint32_t *n);
MEL_API int mel_graph_has_parents(const mel_graph *g);

/* Header facts (roots) */
MEL_API size_t mel_graph_root_count(const mel_graph *g);
MEL_API int mel_graph_root(const mel_graph *g, size_t k, const char **kind, const char **name,
                           uint32_t *node);

/* Mutation (classic proxies are read/write) */
MEL_API void mel_graph_set_size(mel_graph *g, uint32_t i, uint64_t size);
MEL_API void mel_graph_set_type(mel_graph *g, uint32_t i, uint32_t type_id);
MEL_API int mel_graph_set_children(mel_graph *g, uint32_t i, const uint32_t *children, uint32_t n);
MEL_API int mel_graph_set_value_text(mel_graph *g, uint32_t i, const char *utf8, size_t len);
MEL_API int mel_graph_set_value_int(mel_graph *g, uint32_t i, int64_t v);
MEL_API void mel_graph_clear_value(mel_graph *g, uint32_t i);
/* Adds a record (e.g. the <ex-reference> null object).  MEL_EINVAL if the address exists. */
MEL_API int mel_graph_add(mel_graph *g, uint64_t address, uint32_t type_id, uint64_t size,
                          uint32_t *out_index);
MEL_API int mel_graph_delete(mel_graph *g, uint32_t i);

/* Builds de-duplicated parents.  max_parents < 0: unlimited; 0: none kept;
 * otherwise at most max_parents distinct parents per object, the first ones
 * in file order. */
MEL_API int mel_graph_compute_parents(mel_graph *g, int64_t max_parents);

/* Approximate bytes held by the graph (for benchmarks and __sizeof__). */
MEL_API size_t mel_graph_memory(const mel_graph *g);

/* Like mel_graph_lookup, but also finds missing (dangling) and deleted
 * nodes.  MEL_NONE if the address never occurs in the dump. */
MEL_API uint32_t mel_graph_lookup_any(const mel_graph *g, uint64_t address);
/* Type id of a display name (exact bytes), MEL_NONE if no such type. */
MEL_API uint32_t mel_graph_type_find(const mel_graph *g, const char *name, size_t len);
/* Address named by the k-th header root marker (0 if k is out of range). */
MEL_API uint64_t mel_graph_root_address(const mel_graph *g, size_t k);

/* Live records of type type_id, sorted by descending (size, number of
 * children, number of parents), ties in file order.  within: NULL = all
 * records, else only these nodes (duplicates ignored).  *out is malloc'd
 * (free with mel_free), *n its length.  MEL_ENOMEM, MEL_EINVAL. */
MEL_API int mel_graph_all_of_type(const mel_graph *g, uint32_t type_id, const uint32_t *within,
                                  size_t nwithin, uint32_t **out, size_t *n);

/* ======================================================================
 * 5. Analyses
 * ==================================================================== */

/* --- 5.1 Type histogram --------------------------------------------- */
typedef struct mel_type_summary {
    uint32_t type_id;
    uint64_t count;
    uint64_t total_size;
    double sq_sum;          /* sum of size^2 (for std dev) */
    uint64_t max_size;
    uint32_t max_index;     /* node with the largest size */
    uint64_t retained;      /* sum of retained sizes of dominator-tree tops of this type (0 if not computed) */
} mel_type_summary;

typedef struct mel_summary {
    uint64_t total_count;
    uint64_t total_size;
    size_t ntypes;
    mel_type_summary *types; /* ntypes entries, unordered */
} mel_summary;

/* Histogram over all live records (start == NULL) or over what start[]
 * reaches, never walking into excluded[]. */
MEL_API int mel_summarize(const mel_graph *g, const uint32_t *start, size_t nstart,
                          const uint32_t *excluded, size_t nexcluded, mel_summary **out);
MEL_API void mel_summary_free(mel_summary *s);

/* --- 5.2 Reachability ------------------------------------------------ */
/* Every node reachable from start (itself first), in the classic order:
 * LIFO stack, children pushed in order, a node marked when pushed.  Nodes in
 * excluded[] are neither returned nor walked.  Missing and deleted nodes are
 * skipped.  *out is a malloc'd array of *n indexes (free with mel_free). */
MEL_API int mel_reach(const mel_graph *g, uint32_t start, const uint32_t *excluded,
                      size_t nexcluded, uint32_t **out, size_t *n);
MEL_API int mel_total_size(const mel_graph *g, uint32_t start, const uint32_t *excluded,
                           size_t nexcluded, uint64_t *total);
MEL_API void mel_free(void *p);

/* --- 5.3 Collapse ------------------------------------------------------ */
/* Folds instance __dict__s into their owners (classic rule + single-owner
 * check), deletes the dicts and recomputes parents if any were collapsed and
 * parents had been computed.  *ncollapsed gets the count. */
MEL_API int mel_collapse_instance_dicts(mel_graph *g, uint64_t *ncollapsed,
                                        mel_progress_fn progress, void *progress_ctx);

/* --- 5.4 Dominators and retained sizes ------------------------------- */
/* Roots: header root markers plus every live node without parents, under a
 * virtual super-root; nodes reachable only through unrooted cycles are
 * attached to the super-root too (lowest index first).  Needs no parents
 * beforehand.  Deleted records are left out with their edges; missing
 * (dangling) nodes are ordinary nodes of size 0.
 * Computes the dominator tree (Semi-NCA, no recursion) and every retained
 * size and keeps them in the graph until its next structural change.
 *   progress: may be NULL; called now and then with phase "dominators".
 * Returns MEL_OK, MEL_EINVAL (g NULL), MEL_ENOMEM or MEL_ECANCELED. */
MEL_API int mel_compute_dominators(mel_graph *g, mel_progress_fn progress, void *progress_ctx);
/* Nonzero if dominators are computed and still valid. */
MEL_API int mel_graph_has_dominators(const mel_graph *g);
/* Immediate dominator; MEL_NONE means the super-root (also returned for
 * deleted records, out-of-range indexes and when nothing is computed). */
MEL_API uint32_t mel_graph_idom(const mel_graph *g, uint32_t i);
/* Retained size: i's size plus the sizes of all objects only i keeps alive.
 * 0 for deleted records or when nothing is computed. */
MEL_API uint64_t mel_graph_retained(const mel_graph *g, uint32_t i);
/* The super-root's retained size: the sum of the sizes of all live nodes.
 * 0 if dominators were not computed. */
MEL_API uint64_t mel_graph_retained_total(const mel_graph *g);
/* Retained size per type, without double counting: for each type id t,
 * the sum of the retained sizes of the objects of type t that no other
 * object of type t dominates.  Fills mel_type_summary.retained.
 *   per_type: gets a malloc'd array of *ntypes entries indexed by type id
 *             (free with mel_free).
 * Returns MEL_OK, MEL_EINVAL (no dominators computed, NULL argument) or
 * MEL_ENOMEM. */
MEL_API int mel_retained_by_type(const mel_graph *g, uint64_t **per_type, size_t *ntypes);

/* --- 5.5 Paths from the roots ---------------------------------------- */
/* Shortest path from the super-root to target: out[0] is a root node,
 * out[n-1] is target.  The first call does one BFS (cached in the graph
 * until its next structural change); later calls only walk parents.
 *   out: gets a malloc'd array of *n node indexes (free with mel_free).
 * Returns MEL_OK, MEL_EINVAL (bad index or NULL argument), MEL_ENOTFOUND
 * (a deleted record) or MEL_ENOMEM. */
MEL_API int mel_path_to(mel_graph *g, uint32_t target, uint32_t **out, size_t *n);
/* Label of the edge parent->child as written in a path, e.g. "['cache']",
 * "[3]", ".attr", ".__dict__", "->" when unknown.  Writes at most cap bytes
 * including the NUL (buf may be NULL when cap is 0).  Returns bytes needed
 * without the NUL (snprintf rule). */
MEL_API size_t mel_edge_label(const mel_graph *g, uint32_t parent, uint32_t child, char *buf,
                              size_t cap);
/* The text of a path such as sys.modules['app'].__dict__['cache'][3]: the
 * first node by its root marker's name (or kind), else as <type at 0xADDR>,
 * then one edge label per step; an unknown edge is written "->" followed
 * by the child as <type at 0xADDR>.
 *   out: gets a malloc'd NUL-terminated string (free with mel_free).
 * Returns MEL_OK, MEL_EINVAL (a node out of range, NULL argument) or
 * MEL_ENOMEM. */
MEL_API int mel_path_format(const mel_graph *g, const uint32_t *path, size_t n, char **out);

/* --- 5.6 Leak suspects ------------------------------------------------- */
enum mel_suspect_kind {
    MEL_SUSPECT_OBJECT = 1, /* one object retains a large share of the heap */
    MEL_SUSPECT_GROUP = 2   /* many objects of one type, under one dominator */
};

typedef struct mel_suspect {
    int kind;           /* enum mel_suspect_kind */
    uint32_t node;      /* OBJECT: the object; GROUP: the common dominator
                           (MEL_NONE = the super-root) */
    uint32_t type_id;   /* type of the object, or of the group's members */
    uint64_t count;     /* 1, or the group's member count */
    uint64_t retained;  /* bytes retained by the object or by the members together */
    double fraction;    /* retained / heap total */
    uint32_t example;   /* GROUP: the member retaining most; OBJECT: node */
    uint32_t *path;     /* path from the roots to node (n entries, may be empty) */
    size_t path_len;
    char *path_text;    /* mel_path_format of path ("<roots>" for the super-root) */
} mel_suspect;

typedef struct mel_suspect_report {
    uint64_t total;     /* heap total: the super-root's retained size */
    size_t n;
    mel_suspect *items; /* n entries, largest retained first, except that
                           groups held only by the super-root come after
                           every other suspect */
} mel_suspect_report;

/* Leak suspects in the spirit of Eclipse MAT's report.  Computes the
 * dominators first if needed.
 *   OBJECT: each deepest object retaining at least min_fraction of the
 *           heap (none of its dominated objects does), i.e. the point where
 *           a big retained set fans out.
 *   GROUP:  for each dominator (the super-root included), its immediately
 *           dominated objects of one type, at least two, retaining at least
 *           min_fraction of the heap together; left out when the largest
 *           member alone retains min_fraction and the others together do
 *           not (that member is, or is above, an OBJECT suspect).
 *   min_fraction: in (0, 1]; 0.10 is the classic choice.
 *   max_items: keep at most this many (0 = all).
 *   out: gets the report (free with mel_suspect_report_free).
 * Returns MEL_OK, MEL_EINVAL (bad fraction, NULL argument) or MEL_ENOMEM. */
MEL_API int mel_suspects(mel_graph *g, double min_fraction, size_t max_items,
                         mel_suspect_report **out);
MEL_API void mel_suspect_report_free(mel_suspect_report *r);

/* --- 5.7 Diff of two dumps ------------------------------------------- */
typedef struct mel_diff_type {
    const char *name;     /* display type name, owned by the report */
    uint64_t old_count, new_count;
    uint64_t old_size, new_size;
    int64_t count_delta;  /* new_count - old_count */
    int64_t size_delta;   /* new_size - old_size */
    uint64_t added_count; /* objects of this type only in the new dump */
    uint64_t added_size;
} mel_diff_type;

typedef struct mel_diff_report {
    uint64_t old_count, new_count, old_size, new_size; /* live records */
    uint64_t kept_count;  /* objects in both dumps (same address and type name) */
    uint64_t gone_count, gone_size; /* only in the old dump */
    size_t ntypes;
    mel_diff_type *types; /* biggest growers first: size_delta descending,
                             then count_delta descending, then name */
    size_t nadded;
    uint32_t *added;      /* indexes in the new graph of the objects only in
                             it, largest size first */
} mel_diff_report;

/* Compares two dumps (any sizes, classic dumps too).  An object of the new
 * dump is the same object as one of the old dump when both have the same
 * address and the same display type name; types are matched by display
 * name.  Deleted records are left out; missing nodes are not objects.
 *   out: gets the report (free with mel_diff_report_free).
 * Returns MEL_OK, MEL_EINVAL (NULL argument) or MEL_ENOMEM. */
MEL_API int mel_diff(const mel_graph *old_g, const mel_graph *new_g, mel_diff_report **out);
MEL_API void mel_diff_report_free(mel_diff_report *r);

/* ======================================================================
 * 6. Selections: the classic loader's whole-graph queries
 * ==================================================================== */

enum mel_top_key {
    MEL_TOP_SIZE = 1,    /* the record's own size */
    MEL_TOP_RETAINED = 2 /* its retained size (dominators must be computed) */
};

/* The n largest live records by key, largest first, ties in file order.
 *   key:  enum mel_top_key.
 *   n:    how many at most (0 gives an empty result).
 *   out:  gets a malloc'd array of *nout indexes, *nout = min(n, live
 *         records) (free with mel_free; set on success only).
 * Returns MEL_OK, MEL_EINVAL (NULL argument, unknown key, MEL_TOP_RETAINED
 * without dominators) or MEL_ENOMEM. */
MEL_API int mel_top(const mel_graph *g, int key, size_t n, uint32_t **out, size_t *nout);

/* The dict that looks like the interpreter's interned-strings dict (the
 * classic guess_intern_dict): a live "dict" record with no parents and at
 * least one child, whose children come in pairs (k, k) of one and the same
 * live "str" record.  Of several, the first in mel_graph_all_of_type order
 * (largest size, then most children, then file order).  An odd number of
 * children, a dangling or deleted child disqualify a dict.
 *   out: gets the index, or MEL_NONE when no dict qualifies.
 * Returns MEL_OK or MEL_EINVAL (NULL argument). */
MEL_API int mel_guess_intern_dict(const mel_graph *g, uint32_t *out);

/* Cuts the references that make everything reach everything (the classic
 * remove_expensive_references).  Adds the null record "<ex-reference>"
 * (address 0, size 0, no references), then rewrites the children of every
 * other live record:
 *   - a "function" drops its children at positions 1 and 2 (the classic
 *     globals and module) and gains a reference to the null record, always;
 *   - any other record that refers to a live "module", "frame" or "type"
 *     record loses those references and gains one to the null record.
 * Parents are left as they were (stale, as in the classic loader);
 * dominators and cached paths are dropped as by mel_graph_set_children.
 *   null_index: may be NULL; gets the null record's index.
 *   changed:    gets the number of records rewritten.
 * Returns MEL_OK, MEL_EINVAL (NULL g or changed, or address 0 is already a
 * record) or MEL_ENOMEM.  After MEL_ENOMEM the null record may exist and
 * *changed records are already rewritten; the others are untouched. */
MEL_API int mel_remove_expensive_references(mel_graph *g, uint32_t *null_index,
                                            uint64_t *changed);

#ifdef __cplusplus
}
#endif
#endif /* MELIAE_H */
