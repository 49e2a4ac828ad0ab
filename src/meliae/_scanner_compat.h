/*
 * _scanner_compat.h - every CPython-version-specific layout the scanner reads.
 *
 * The scanner must read a few interpreter internals that no public API
 * exposes without side effects: the dict keys table (to list attribute names
 * of key-sharing dicts and to size dicts without calling __sizeof__), the
 * managed-dict pre-header and values of instances (3.11+), the interpreter
 * frame behind an executing frame object (3.11+) and its stack references
 * (3.14+), and the digit count of ints.  Each mirror struct below is copied
 * field by field from the installed internal header of that version
 * (Include/internal/pycore_dict.h, pycore_object.h, pycore_frame.h,
 * pycore_interpframe_structs.h, pycore_stackref.h) and used only under the
 * matching PY_VERSION_HEX branch.
 *
 * This header and _scanner_compat.c hold every PY_VERSION_HEX branch of the
 * scanner: _scanner.c and _scanner_size.c call the functions declared here
 * and never test the version themselves.  Adding a CPython version means
 * reading its headers and changing these two files only.
 *
 * Supported: CPython 3.10 to 3.15, default (GIL) build.  Free-threaded
 * builds are refused (their object header, reference counts and dict
 * layouts differ throughout).
 */
#ifndef MEL_SCANNER_COMPAT_H
#define MEL_SCANNER_COMPAT_H

#include <Python.h>
#include <frameobject.h>
#include <stdint.h>

#if PY_VERSION_HEX < 0x030A0000 || PY_VERSION_HEX >= 0x03100000
#error "meliae supports CPython 3.10 to 3.15"
#endif
#ifdef Py_GIL_DISABLED
#error "meliae supports the default (GIL) build of CPython 3.10 to 3.15, not the free-threaded build"
#endif

/* sizeof(PyGC_Head): two uintptr_t since 3.8 (the struct is private). */
#define MEL_GC_HEAD_SIZE ((Py_ssize_t)(2 * sizeof(uintptr_t)))

/* The module slot that declares the extension needs the GIL (3.13+). */
#if PY_VERSION_HEX >= 0x030D0000
#define MEL_MOD_GIL_SLOT {Py_mod_gil, Py_MOD_GIL_USED},
#else
#define MEL_MOD_GIL_SLOT
#endif

/* ---- dict keys (pycore_dict.h) ---------------------------------------- */

#if PY_VERSION_HEX >= 0x030B0000
/* 3.11 to 3.15 (default build): struct _dictkeysobject. */
typedef struct mel_dictkeys {
    Py_ssize_t dk_refcnt;
    uint8_t dk_log2_size;
    uint8_t dk_log2_index_bytes;
    uint8_t dk_kind; /* 0 general, 1 unicode, 2 split */
    uint32_t dk_version;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];
} mel_dictkeys;
#else
/* 3.10: struct _dictkeysobject. */
typedef struct mel_dictkeys {
    Py_ssize_t dk_refcnt;
    Py_ssize_t dk_size;
    void *dk_lookup;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];
} mel_dictkeys;
#endif

/* ---- what the rest of the scanner calls ---------------------------------
 * Every function runs with the GIL held, runs no Python code and leaves no
 * exception set. */

/* The instance attributes of op that a dict does not show by itself.
 *   keys, values, n: the class's shared keys and op's managed values (3.11+,
 *     not materialized as a dict): values[i] is the attribute named by
 *     mel_keys_name(keys, i) when not NULL; n slots (0 when there are none
 *     to read as name, value pairs).
 *   dict: op's materialized __dict__ when tp_traverse would not list it
 *     (3.13: a dict made by obj.__dict__ or vars(obj) that still shares the
 *     inline values, which tp_traverse visits instead); else NULL.  When set,
 *     n is 0 and values/nvalues name the values tp_traverse lists in its
 *     place (to be dropped: the dict lists them). */
typedef struct mel_attrs {
    mel_dictkeys *keys;
    PyObject **values;
    Py_ssize_t n;       /* slots to read as name, value pairs */
    Py_ssize_t nvalues; /* slots of values that tp_traverse visits */
    PyObject *dict;     /* borrowed */
} mel_attrs;
void mel_instance_attrs(PyObject *op, mel_attrs *a);
/* Entry i of a shared keys table: the key object. */
PyObject *mel_keys_name(mel_dictkeys *keys, Py_ssize_t i);

/* A type's __dict__ (static builtin types keep theirs in the interpreter
 * state on 3.12+): a new reference, or NULL. */
PyObject *mel_type_dict(PyTypeObject *t);
/* A type's subclasses dict (borrowed), or NULL when it has none or keeps
 * them elsewhere (3.12+ static builtin types). */
PyObject *mel_type_subclasses(PyTypeObject *t);

/* The object fields of a code object, in dump order, into out (room for
 * MEL_CODE_FIELDS_MAX); returns how many (entries may be NULL). */
#define MEL_CODE_FIELDS_MAX 12
int mel_code_fields(PyCodeObject *co, PyObject **out);

/* Visits what an executing frame object reaches outside its tp_traverse
 * (3.11+): the interpreter frame's code, function, globals, builtins,
 * locals, local variables and (3.14+) its live value stack, then the
 * calling frame (created if needed: the interpreter frame keeps it).
 * Returns the first nonzero visit result, else 0. */
int mel_frame_refs(PyObject *frame, visitproc visit, void *arg);

/* dict or, 3.15+, frozendict (same layout, PyDict_Next reads both). */
int mel_any_dict(PyObject *op);
/* Exactly dict or frozendict (no subclass). */
int mel_any_dict_exact(PyObject *op);
/* The frozendict type (3.15+). */
int mel_type_is_frozendict(PyTypeObject *t);

/* Nonzero when a str's data can be read (always on 3.12+). */
int mel_str_ready(PyObject *s);

/* ---- sizes (docs/format.md, Sizes) ------------------------------------ */

/* GC header and managed-dict/weakref words in front of op. */
Py_ssize_t mel_preheader_size(PyObject *op);
/* Bytes of op's managed values that its own block does not show (3.11 and
 * 3.12: the separate values block; 3.13+: the inline area). */
Py_ssize_t mel_managed_values_size(PyObject *op);
/* A dict keys table (_PyDict_KeysSize). */
Py_ssize_t mel_keys_size(mel_dictkeys *k);
/* A dict: its struct, its own keys table and its own values block. */
Py_ssize_t mel_dict_size(PyObject *op);
/* An int (or subclass).  is_static: op lives in a loaded image. */
Py_ssize_t mel_int_size(PyObject *op, int is_static);
/* A str (or subclass), with its cached UTF-8 and wchar_t copies. */
Py_ssize_t mel_str_size(PyObject *op);
/* A frame object, generator, coroutine or async generator with its frame
 * slots (3.11+ sizes them from the code object: there is no ob_size). */
Py_ssize_t mel_frame_like_size(PyObject *op);
/* A bytearray (or subclass) with its buffer. */
Py_ssize_t mel_bytearray_size(PyObject *op);
/* A code object with its co_extra block. */
Py_ssize_t mel_code_size(PyObject *op);

/* From _scanner_size.c, used by the sizes above. */
Py_ssize_t mel_var_size(PyTypeObject *tp, Py_ssize_t n);
Py_ssize_t mel_generic_size(PyObject *op);

#endif
