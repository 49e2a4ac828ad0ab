/*
 * _scanner.h - declarations shared by the scanner extension's files:
 * the seen-set (_scanner_seen.c), the output sinks (_scanner_sink.c) and the
 * size model (_scanner_size.c).  The walk itself is in _scanner.c; every
 * version-specific read is declared in _scanner_compat.h.
 * Everything here runs with the GIL held.
 */
#ifndef MEL_SCANNER_H
#define MEL_SCANNER_H

#include "_scanner_compat.h"
#include "meliae.h"

#include <zlib.h>

/* ---- seen-set ---------------------------------------------------------
 * A set of object addresses: a sparse two-level bitmap (one bit per 8 bytes
 * of address space, in 512 KiB regions found through a hash table) plus a
 * small hash set for addresses that are not 8-byte aligned.  Memory comes
 * from PyMem_RawMalloc; no Python object is involved. */
typedef struct mel_seen mel_seen;

/* Returns a new empty set, or NULL on memory exhaustion (no exception). */
mel_seen *mel_seen_new(void);
void mel_seen_free(mel_seen *s);
/* Adds addr.  Returns 1 if it was new, 0 if present, -1 on ENOMEM. */
int mel_seen_add(mel_seen *s, uintptr_t addr);
int mel_seen_contains(const mel_seen *s, uintptr_t addr);
/* Bytes currently held by the set. */
size_t mel_seen_memory(const mel_seen *s);

/* ---- sinks --------------------------------------------------------------
 * Where the writer's bytes go: a file descriptor (write(2) loop), a gzip
 * stream over a descriptor, or a Python object's write() method (one bytes
 * object per writer buffer). */
enum mel_sink_kind { MEL_SINK_FD, MEL_SINK_GZIP, MEL_SINK_PYFILE };

typedef struct mel_sink {
    int kind;
    int fd;             /* FD / GZIP: borrowed from the caller, never closed */
    gzFile gz;          /* GZIP: owned, over a dup() of fd */
    PyObject *write;    /* PYFILE: owned reference to the bound write method */
    PyObject *exc_type; /* a Python exception raised by write(), owned */
    PyObject *exc_value;
    PyObject *exc_tb;
} mel_sink;

/* Prepares a sink.  Returns 0, or -1 with a Python exception set. */
int mel_sink_open_fd(mel_sink *s, int fd, int gzip_level);
int mel_sink_open_pyfile(mel_sink *s, PyObject *file);
/* The mel_write_fn for the writer (ctx = mel_sink*). */
int mel_sink_write(void *ctx, const void *buf, size_t len);
/* Ends the stream (gzip trailer).  Returns 0 or a positive errno. */
int mel_sink_finish(mel_sink *s);
/* Releases everything.  If the sink holds a Python exception and no other
 * exception is set, restores it and returns 1; else returns 0. */
int mel_sink_close(mel_sink *s);

/* ---- sizes --------------------------------------------------------------*/

/* Prepares the size model (dl_iterate_phdr image map, special sizes).
 * Returns 0, or -1 with an exception set. */
int mel_size_init(void);
/* Nonzero if op lives in a loaded ELF image (static object). */
int mel_is_static(PyObject *op);
/* Bytes op occupies (docs/format.md, Sizes).  May run a special-size
 * callback or a C-level __sizeof__; never leaves an exception set. */
Py_ssize_t mel_size_of(PyObject *op);
/* Registers (fn != None) or removes (fn == None) a special size callable
 * for objects whose type's tp_name equals name.  0 or -1 with exception. */
int mel_size_add_special(const char *name, PyObject *fn);
/* Drops the per-type strategy cache (types may die between dumps). */
void mel_size_reset_cache(void);

#endif
