/*
 * _scanner_compat.h - every CPython-version-specific layout the scanner reads.
 *
 * The scanner must read a few interpreter internals that no public API
 * exposes without side effects: the dict keys table (to list attribute names
 * of key-sharing dicts and to size dicts without calling __sizeof__), the
 * managed-dict pre-header and values of instances (3.11+), and the
 * interpreter frame behind an executing frame object (3.11+).  Each mirror
 * struct below is copied field by field from the installed internal header of
 * that version (Include/internal/pycore_dict.h, pycore_object.h,
 * pycore_frame.h) and used only under the matching PY_VERSION_HEX branch.
 * Free-threaded builds are not supported (the module refuses to build).
 */
#ifndef MEL_SCANNER_COMPAT_H
#define MEL_SCANNER_COMPAT_H

#include <Python.h>
#include <frameobject.h>
#include <stdint.h>

#if PY_VERSION_HEX < 0x030A0000 || PY_VERSION_HEX >= 0x030E0000
#error "meliae._scanner supports CPython 3.10 to 3.13"
#endif
#ifdef Py_GIL_DISABLED
#error "meliae._scanner does not support free-threaded builds yet"
#endif

/* sizeof(PyGC_Head): two uintptr_t since 3.8 (the struct is private). */
#define MEL_GC_HEAD_SIZE ((Py_ssize_t)(2 * sizeof(uintptr_t)))

/* ---- dict keys (pycore_dict.h) ---------------------------------------- */

#if PY_VERSION_HEX >= 0x030B0000
/* 3.11, 3.12, 3.13 (default build): struct _dictkeysobject. */
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
#define MEL_DICT_KEYS_GENERAL 0
#define MEL_DICTKEYS_HEADER 32
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
#define MEL_DICTKEYS_HEADER 40
#endif

/* PyDictKeyEntry and PyDictUnicodeEntry. */
typedef struct mel_dict_entry {
    Py_hash_t me_hash;
    PyObject *me_key;
    PyObject *me_value;
} mel_dict_entry;
typedef struct mel_dict_uentry {
    PyObject *me_key;
    PyObject *me_value;
} mel_dict_uentry;

/* 3.13 struct _dictvalues: a 4-byte header, then the values; the
 * insertion-order bytes follow values[capacity]. */
#if PY_VERSION_HEX >= 0x030D0000
typedef struct mel_dictvalues {
    uint8_t capacity;
    uint8_t size;
    uint8_t embedded;
    uint8_t valid;
    PyObject *values[1];
} mel_dictvalues;
#endif

/* ---- interpreter frames (pycore_frame.h), 3.11+ ------------------------ */

#if PY_VERSION_HEX >= 0x030B0000
/* The frame object (struct _frame) starts the same way in 3.11-3.13. */
typedef struct mel_frameobject {
    PyObject_HEAD
    PyObject *f_back;
    void *f_frame; /* the _PyInterpreterFrame */
} mel_frameobject;

#define MEL_FRAME_OWNED_BY_FRAME_OBJECT 2

#if PY_VERSION_HEX >= 0x030C0000
/* 3.12: f_code first; 3.13: f_executable (a code object or None). */
typedef struct mel_iframe {
    PyObject *f_code;
    void *previous;
    PyObject *f_funcobj;
    PyObject *f_globals;
    PyObject *f_builtins;
    PyObject *f_locals;
    PyObject *frame_obj;
    void *instr_ptr;
    int stacktop;
    uint16_t return_offset;
    char owner;
    PyObject *localsplus[1];
} mel_iframe;
#else
/* 3.11 */
typedef struct mel_iframe {
    PyObject *f_funcobj;
    PyObject *f_globals;
    PyObject *f_builtins;
    PyObject *f_locals;
    PyObject *f_code;
    PyObject *frame_obj;
    void *previous;
    void *prev_instr;
    int stacktop;
    char is_entry; /* bool in CPython: one byte */
    char owner;
    PyObject *localsplus[1];
} mel_iframe;
#endif
#endif /* 3.11+ */

/* ---- managed dict pre-header (pycore_object.h) ------------------------- */

#if PY_VERSION_HEX >= 0x030C0000
#define MEL_PREHEADER_FLAGS (Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF)
#elif PY_VERSION_HEX >= 0x030B0000
#define MEL_PREHEADER_FLAGS Py_TPFLAGS_MANAGED_DICT
#else
#define MEL_PREHEADER_FLAGS 0
#endif

#endif
