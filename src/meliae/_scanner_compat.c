/*
 * _scanner_compat.c - the version-specific reads declared in
 * _scanner_compat.h.  Every PY_VERSION_HEX branch of the scanner is here or
 * in that header; each mirror struct is copied from the internal headers of
 * the versions it names.
 *
 * Layout changes this file follows, by version:
 *   3.11  managed dicts: values pointer at word -4, dict at word -3 (one or
 *         the other); interpreter frames behind frame objects; dict keys
 *         with dk_log2_size and unicode entries.
 *   3.12  word -3 is a tagged pointer (values - 1, or the dict); a static
 *         builtin type's dict and subclasses live in the interpreter state;
 *         ints keep their digit count in lv_tag; str has no wstr.
 *   3.13  values inline after the object (capacity, embedded and valid
 *         bytes before them); a materialized __dict__ can share them, and
 *         tp_traverse then lists the values, not the dict (3.14+ lists the
 *         dict).
 *   3.14  frames hold _PyStackRef (tagged words) for the code, the function
 *         and every local and stack slot, and keep a stack pointer that is
 *         saved before every call that can run the GC.
 *   3.15  stack references gain an "invalid" tag (2); the frame owners lose
 *         FRAME_OWNED_BY_CSTACK; a bytearray's buffer is a private bytes
 *         object; frozendict is a dict layout of its own type.  Nothing
 *         else the scanner reads moved.
 */
#include "_scanner.h"

#include <stddef.h>
#include <string.h>

/* ---- mirrors of private structs ---------------------------------------- */

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

#if PY_VERSION_HEX >= 0x030B0000
#define MEL_DICT_KEYS_GENERAL 0
#define MEL_DICTKEYS_HEADER 32
#else
#define MEL_DICTKEYS_HEADER 40
#endif

#if PY_VERSION_HEX >= 0x030D0000
/* 3.13+ struct _dictvalues: a 4-byte header, then the values; the
 * insertion-order bytes follow values[capacity]. */
typedef struct mel_dictvalues {
    uint8_t capacity;
    uint8_t size;
    uint8_t embedded;
    uint8_t valid;
    PyObject *values[1];
} mel_dictvalues;
/* MANAGED_DICT_OFFSET of the default build, in words. */
#define MEL_MANAGED_DICT_WORD (-3)
#endif

#if PY_VERSION_HEX >= 0x030B0000
/* The frame object (struct _frame) starts the same way in 3.11-3.15. */
typedef struct mel_frameobject {
    PyObject_HEAD
    PyObject *f_back;
    void *f_frame; /* the _PyInterpreterFrame */
} mel_frameobject;

/* enum _frameowner: the same value in 3.11-3.15. */
#define MEL_FRAME_OWNED_BY_FRAME_OBJECT 2

#if PY_VERSION_HEX >= 0x030E0000
/* 3.14, 3.15: _PyStackRef is one tagged word (default build):
 * low bits 00 = object, 01 = object whose count is deferred or immortal
 * (01 alone is NULL), 10 = invalid (3.15), 11 = tagged int. */
typedef uintptr_t mel_stackref;
typedef struct mel_iframe {
    mel_stackref f_executable;
    void *previous;
    mel_stackref f_funcobj;
    PyObject *f_globals;
    PyObject *f_builtins;
    PyObject *f_locals;
    PyObject *frame_obj;
    void *instr_ptr;
    mel_stackref *stackpointer;
    uint16_t return_offset;
    char owner;
    uint8_t visited;
    mel_stackref localsplus[1];
} mel_iframe;
#elif PY_VERSION_HEX >= 0x030C0000
/* 3.12, 3.13: the code first (named f_code in 3.12, f_executable, a code
 * object or None, in 3.13). */
typedef struct mel_iframe {
    PyObject *f_executable;
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
    PyObject *f_executable; /* f_code in 3.11 */
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

/* ---- instance attributes ------------------------------------------------ */

PyObject *mel_keys_name(mel_dictkeys *keys, Py_ssize_t i)
{
#if PY_VERSION_HEX >= 0x030B0000
    char *entries = keys->dk_indices + ((size_t)1 << keys->dk_log2_index_bytes);
    if (keys->dk_kind == MEL_DICT_KEYS_GENERAL)
        return ((mel_dict_entry *)entries)[i].me_key;
    return ((mel_dict_uentry *)entries)[i].me_key;
#else
    (void)keys;
    (void)i;
    return NULL;
#endif
}

void mel_instance_attrs(PyObject *op, mel_attrs *a)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyTypeObject *tp = Py_TYPE(op);
    mel_dictkeys *k;
    Py_ssize_t n;
#endif

    memset(a, 0, sizeof *a);
#if PY_VERSION_HEX >= 0x030B0000
    if (!(tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) || !(tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return;
    k = (mel_dictkeys *)((PyHeapTypeObject *)tp)->ht_cached_keys;
    if (!k)
        return;
    n = k->dk_nentries;
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.13+: inline values right after the object, valid until a dict
     * takes them over (pycore_object.h, _PyObject_InlineValues).  A dict
     * made for __dict__ meanwhile points at them (embedded); on 3.13
     * tp_traverse (PyObject_VisitManagedDict) lists the values, not that
     * dict. */
    if (!(tp->tp_flags & Py_TPFLAGS_INLINE_VALUES))
        return;
    {
        mel_dictvalues *v = (mel_dictvalues *)((char *)op + tp->tp_basicsize);
        PyObject *d = ((PyObject **)op)[MEL_MANAGED_DICT_WORD];
        if (!v->valid)
            return;
#if PY_VERSION_HEX >= 0x030E0000
        /* 3.14+: tp_traverse lists such a dict itself, not the values. */
        if (d)
            return;
#endif
        if (n > v->capacity)
            n = v->capacity;
        a->keys = k;
        a->values = v->values;
        a->nvalues = v->capacity;
        if (d && PyDict_Check(d)) {
            a->dict = d;
            return;
        }
        a->n = n;
    }
#elif PY_VERSION_HEX >= 0x030C0000
    /* 3.12: word -3 is a tagged pointer; low bit set = values - 1. */
    {
        uintptr_t dorv = ((uintptr_t *)op)[-3];
        if (!(dorv & 1))
            return;
        a->keys = k;
        a->values = (PyObject **)(dorv + 1);
        a->n = a->nvalues = n;
    }
#else
    /* 3.11: word -4 is the values pointer (NULL once a dict exists). */
    {
        PyObject **v = ((PyObject ***)op)[-4];
        if (!v)
            return;
        a->keys = k;
        a->values = v;
        a->n = a->nvalues = n;
    }
#endif
#else
    (void)op;
#endif
}

/* ---- types and code ------------------------------------------------------- */

PyObject *mel_type_dict(PyTypeObject *t)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *d = PyType_GetDict(t);
    if (!d)
        PyErr_Clear(); /* a type without a dict */
    return d;
#else
    Py_XINCREF(t->tp_dict);
    return t->tp_dict;
#endif
}

PyObject *mel_type_subclasses(PyTypeObject *t)
{
    PyObject *s;

#if PY_VERSION_HEX >= 0x030C0000
    /* _Py_TPFLAGS_STATIC_BUILTIN (bit 1): tp_subclasses is an index into
     * the interpreter state, not a pointer. */
    if (t->tp_flags & (1UL << 1))
        return NULL;
#endif
    s = (PyObject *)t->tp_subclasses;
    return s && PyDict_Check(s) ? s : NULL;
}

int mel_code_fields(PyCodeObject *co, PyObject **out)
{
    int n = 0;

    out[n++] = co->co_consts;
    out[n++] = co->co_names;
    out[n++] = co->co_filename;
    out[n++] = co->co_name;
    out[n++] = co->co_linetable;
#if PY_VERSION_HEX >= 0x030B0000
    out[n++] = co->co_qualname;
    out[n++] = co->co_exceptiontable;
    out[n++] = co->co_localsplusnames;
    out[n++] = co->co_localspluskinds;
#if PY_VERSION_HEX >= 0x030C0000
    if (co->_co_cached) {
        out[n++] = co->_co_cached->_co_code;
        out[n++] = co->_co_cached->_co_varnames;
        out[n++] = co->_co_cached->_co_cellvars;
        out[n++] = co->_co_cached->_co_freevars;
    }
#else
    out[n++] = co->_co_code;
#endif
#else
    out[n++] = co->co_code;
    out[n++] = co->co_varnames;
    out[n++] = co->co_freevars;
    out[n++] = co->co_cellvars;
#endif
    return n;
}

/* ---- frames ---------------------------------------------------------------- */

#if PY_VERSION_HEX >= 0x030E0000
/* The object of a stack reference, or NULL for NULL, ints and invalid. */
static PyObject *stackref_object(mel_stackref r)
{
    if ((r & 3) >= 2)
        return NULL;
    return (PyObject *)(r & ~(uintptr_t)3);
}
#define FRAME_SLOT(x) stackref_object(x)
#elif PY_VERSION_HEX >= 0x030B0000
#define FRAME_SLOT(x) (x)
#endif

#if PY_VERSION_HEX >= 0x030B0000
/* Visits the interpreter frame's own references.  Only the local variables
 * (the first co_nlocalsplus slots, always initialized) are read on 3.11 to
 * 3.13, whose value-stack top is not recorded while the frame runs; 3.14+
 * saves the stack pointer before any call that can run the GC (the GC reads
 * the stack the same way), so the live value stack is read too when that
 * pointer lies inside the frame. */
static int iframe_refs(mel_iframe *fr, visitproc visit, void *arg)
{
    PyObject *code = FRAME_SLOT(fr->f_executable);
    PyObject *slots[5];
    int i, rc;
    Py_ssize_t n = 0, top;

    slots[0] = code;
    slots[1] = FRAME_SLOT(fr->f_funcobj);
    slots[2] = fr->f_globals;
    slots[3] = fr->f_builtins;
    slots[4] = fr->f_locals;
    for (i = 0; i < 5; i++) {
        if (slots[i] && (rc = visit(slots[i], arg)) != 0)
            return rc;
    }
    if (!code || !PyCode_Check(code))
        return 0;
    n = ((PyCodeObject *)code)->co_nlocalsplus;
    top = n;
#if PY_VERSION_HEX >= 0x030E0000
    if (fr->stackpointer) {
        Py_ssize_t sp = fr->stackpointer - fr->localsplus;
        if (sp > n && sp <= n + ((PyCodeObject *)code)->co_stacksize)
            top = sp;
    }
#endif
    for (n = 0; n < top; n++) {
        PyObject *o = FRAME_SLOT(fr->localsplus[n]);
        if (o && (rc = visit(o, arg)) != 0)
            return rc;
    }
    return 0;
}
#endif

int mel_frame_refs(PyObject *op, visitproc visit, void *arg)
{
#if PY_VERSION_HEX >= 0x030B0000
    mel_frameobject *f = (mel_frameobject *)op;
    mel_iframe *fr = f->f_frame;
    int rc;

    if (fr && fr->owner != MEL_FRAME_OWNED_BY_FRAME_OBJECT && (rc = iframe_refs(fr, visit, arg)) != 0)
        return rc;
    if (!f->f_back) {
        /* PyFrame_GetBack may create the caller's frame object (3.11+
         * creates frame objects lazily); the interpreter frame keeps it. */
        PyObject *back = (PyObject *)PyFrame_GetBack((PyFrameObject *)op);
        if (back) {
            rc = visit(back, arg);
            Py_DECREF(back);
            if (rc)
                return rc;
        } else if (PyErr_Occurred()) {
            PyErr_Clear(); /* only a failed frame allocation can land here */
        }
    }
#else
    (void)op;
    (void)visit;
    (void)arg;
#endif
    return 0;
}

int mel_any_dict(PyObject *op)
{
#if PY_VERSION_HEX >= 0x030F0000
    return PyDict_Check(op) || PyFrozenDict_Check(op);
#else
    return PyDict_Check(op);
#endif
}

int mel_any_dict_exact(PyObject *op)
{
#if PY_VERSION_HEX >= 0x030F0000
    return PyDict_CheckExact(op) || PyFrozenDict_CheckExact(op);
#else
    return PyDict_CheckExact(op);
#endif
}

int mel_type_is_frozendict(PyTypeObject *t)
{
#if PY_VERSION_HEX >= 0x030F0000
    return t == &PyFrozenDict_Type;
#else
    (void)t;
    return 0;
#endif
}

int mel_str_ready(PyObject *s)
{
#if PY_VERSION_HEX < 0x030C0000
    return PyUnicode_IS_READY(s);
#else
    (void)s;
    return 1;
#endif
}

/* ---- sizes ------------------------------------------------------------------ */

#if PY_VERSION_HEX >= 0x030B0000
static Py_ssize_t round8(Py_ssize_t n)
{
    return (n + 7) & ~(Py_ssize_t)7;
}
#endif

Py_ssize_t mel_preheader_size(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    Py_ssize_t n = 0;

    if (PyObject_IS_GC(op))
        n += MEL_GC_HEAD_SIZE;
#if PY_VERSION_HEX >= 0x030C0000
    if (tp->tp_flags & (Py_TPFLAGS_MANAGED_DICT | Py_TPFLAGS_MANAGED_WEAKREF))
        n += 2 * (Py_ssize_t)sizeof(PyObject *);
#elif PY_VERSION_HEX >= 0x030B0000
    if (tp->tp_flags & Py_TPFLAGS_MANAGED_DICT)
        n += 2 * (Py_ssize_t)sizeof(PyObject *);
#else
    (void)tp;
#endif
    return n;
}

Py_ssize_t mel_keys_size(mel_dictkeys *k)
{
#if PY_VERSION_HEX >= 0x030B0000
    Py_ssize_t slots = (Py_ssize_t)1 << k->dk_log2_size;
    Py_ssize_t usable = (slots << 1) / 3;
    Py_ssize_t es = k->dk_kind == MEL_DICT_KEYS_GENERAL ? (Py_ssize_t)sizeof(mel_dict_entry)
                                                        : (Py_ssize_t)sizeof(mel_dict_uentry);
    return MEL_DICTKEYS_HEADER + ((Py_ssize_t)1 << k->dk_log2_index_bytes) + usable * es;
#else
    Py_ssize_t slots = k->dk_size;
    Py_ssize_t usable = (slots << 1) / 3;
    Py_ssize_t ix = slots <= 0xff ? 1 : slots <= 0xffff ? 2 : slots <= 0xffffffffLL ? 4 : 8;
    return MEL_DICTKEYS_HEADER + ix * slots + usable * (Py_ssize_t)sizeof(mel_dict_entry);
#endif
}

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030D0000
/* A 3.11/3.12 values block (new_values): prefix + 8*s, where the prefix
 * byte values[-1] = round8(s + 2).  s itself is not stored: it was the
 * class's shared-keys usable size when the block was made.  That size only
 * shrinks, so the class's current size, clamped to what the prefix allows,
 * is exact in steady state and at most 56 bytes off for a class's first
 * few dozen instances. */
static Py_ssize_t values_block_size(PyObject **values, mel_dictkeys *keys)
{
    Py_ssize_t prefix = ((uint8_t *)values)[-1];
    Py_ssize_t s = keys ? keys->dk_nentries + keys->dk_usable : prefix - 2;

    if (s > prefix - 2)
        s = prefix - 2;
    if (s < prefix - 9)
        s = prefix - 9;
    if (s < 0)
        s = 0;
    return prefix + 8 * s;
}
#endif

#if PY_VERSION_HEX >= 0x030D0000
/* A 3.13+ values area (_PyInlineValuesSize): round8(s) + 8*(s+1).  The
 * area was sized with the usable size before this instance's decrement,
 * which happened (s = capacity + 1) while the class's keys still had more
 * than one usable slot; in steady state s = capacity. */
static Py_ssize_t values_area_size(const mel_dictvalues *v, mel_dictkeys *keys, int inline_area)
{
    Py_ssize_t s = v->capacity;

    if (inline_area && keys && keys->dk_usable > 1)
        s++;
    return round8(s) + 8 * (s + 1);
}
#endif

Py_ssize_t mel_managed_values_size(PyObject *op)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyTypeObject *tp = Py_TYPE(op);
    mel_dictkeys *k;

    if (!(tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) || !(tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return 0;
    k = (mel_dictkeys *)((PyHeapTypeObject *)tp)->ht_cached_keys;
#if PY_VERSION_HEX >= 0x030D0000
    if (!(tp->tp_flags & Py_TPFLAGS_INLINE_VALUES))
        return 0;
    /* The area stays allocated even when a dict took over (valid = 0). */
    return values_area_size((mel_dictvalues *)((char *)op + tp->tp_basicsize), k, 1);
#else
    {
        PyObject **values;
#if PY_VERSION_HEX >= 0x030C0000
        uintptr_t dorv = ((uintptr_t *)op)[-3];
        if (!(dorv & 1))
            return 0;
        values = (PyObject **)(dorv + 1);
#else
        values = ((PyObject ***)op)[-4];
        if (!values)
            return 0;
#endif
        return values_block_size(values, k);
    }
#endif
#else
    (void)op;
    return 0;
#endif
}

Py_ssize_t mel_dict_size(PyObject *op)
{
    PyDictObject *mp = (PyDictObject *)op;
    mel_dictkeys *k = (mel_dictkeys *)mp->ma_keys;
    Py_ssize_t size = Py_TYPE(op)->tp_basicsize;

    if (mp->ma_values) {
#if PY_VERSION_HEX >= 0x030D0000
        mel_dictvalues *v = (mel_dictvalues *)mp->ma_values;
        /* Embedded values belong to the instance's block. */
        if (!v->embedded)
            size += values_area_size(v, k, 0);
#elif PY_VERSION_HEX >= 0x030B0000
        size += values_block_size((PyObject **)mp->ma_values, k);
#else
        size += ((k->dk_size << 1) / 3) * (Py_ssize_t)sizeof(PyObject *);
#endif
    }
    /* Shared keys belong to the class (counted there); own keys here. */
    if (k && k->dk_refcnt == 1)
        size += mel_keys_size(k);
    return size;
}

Py_ssize_t mel_int_size(PyObject *op, int is_static)
{
    /* 3.10/3.11: ob_size (sign and digit count); 3.12+: lv_tag, digit count
     * in the bits above 3.  Both are the word after the header. */
#if PY_VERSION_HEX >= 0x030C0000
    Py_ssize_t nd = (Py_ssize_t)(((uintptr_t *)op)[2] >> 3);
#else
    Py_ssize_t nd = Py_SIZE(op) < 0 ? -Py_SIZE(op) : Py_SIZE(op);
#endif
    PyTypeObject *tp = Py_TYPE(op);

    if (tp == &PyLong_Type || tp == &PyBool_Type) {
#if PY_VERSION_HEX >= 0x030B0000
        Py_ssize_t size = tp->tp_basicsize + 4 * (nd < 1 ? 1 : nd);
        /* One-digit ints made at run time come from _PyLong_FromMedium
         * (3.11+), which requests sizeof(PyLongObject) = 32. */
        if (nd == 1 && !is_static && tp == &PyLong_Type)
            size = 32;
#else
        Py_ssize_t size = tp->tp_basicsize + 4 * nd;
        (void)is_static;
#endif
        return size;
    }
    return mel_var_size(tp, nd < 1 ? 1 : nd);
}

Py_ssize_t mel_str_size(PyObject *op)
{
    Py_ssize_t size;
    Py_ssize_t len = PyUnicode_GET_LENGTH(op);
    PyASCIIObject *a = (PyASCIIObject *)op;

#if PY_VERSION_HEX < 0x030C0000
    if (!PyUnicode_IS_READY(op)) {
        size = Py_TYPE(op)->tp_basicsize;
        if (a->wstr)
            size += (((PyCompactUnicodeObject *)op)->wstr_length + 1) * (Py_ssize_t)sizeof(wchar_t);
        return size;
    }
#endif
    if (PyUnicode_IS_COMPACT_ASCII(op)) {
        size = (Py_ssize_t)sizeof(PyASCIIObject) + len + 1;
    } else if (PyUnicode_IS_COMPACT(op)) {
        size = (Py_ssize_t)sizeof(PyCompactUnicodeObject) + (len + 1) * PyUnicode_KIND(op);
    } else {
        /* Legacy layout (str subclasses): the header is the subclass's own
         * basicsize (it may carry slots), the data a separate block. */
        size = Py_TYPE(op)->tp_basicsize;
        if (((PyUnicodeObject *)op)->data.any)
            size += (len + 1) * PyUnicode_KIND(op);
    }
    if (!PyUnicode_IS_COMPACT_ASCII(op)) {
        PyCompactUnicodeObject *c = (PyCompactUnicodeObject *)op;
        if (c->utf8 && c->utf8 != PyUnicode_DATA(op))
            size += c->utf8_length + 1;
    }
#if PY_VERSION_HEX < 0x030C0000
    if (a->wstr && (void *)a->wstr != PyUnicode_DATA(op))
        size += (((PyCompactUnicodeObject *)op)->wstr_length + 1) * (Py_ssize_t)sizeof(wchar_t);
#else
    (void)a;
#endif
    return size;
}

Py_ssize_t mel_frame_like_size(PyObject *op)
{
#if PY_VERSION_HEX >= 0x030B0000
    /* 3.11+: these objects carry an interpreter frame whose slots (locals
     * and value stack) are allocated with the object, co_nlocalsplus +
     * co_stacksize of them (_PyFrame_NumSlotsForCodeObject); they have no
     * ob_size to read the count from. */
    PyTypeObject *tp = Py_TYPE(op);
    PyObject *code;
    Py_ssize_t slots = 0;

    if (PyFrame_Check(op)) {
        code = (PyObject *)PyFrame_GetCode((PyFrameObject *)op);
    } else {
#if PY_VERSION_HEX >= 0x030C0000
        /* The frame is the struct's last member: tp_basicsize ends where
         * its localsplus begins. */
        mel_iframe *fr = (mel_iframe *)((char *)op + tp->tp_basicsize -
                                        (Py_ssize_t)offsetof(mel_iframe, localsplus));
        code = FRAME_SLOT(fr->f_executable);
#else
        code = (PyObject *)((PyGenObject *)op)->gi_code; /* cr_code, ag_code alike */
#endif
        Py_XINCREF(code);
    }
    if (code && PyCode_Check(code))
        slots = ((PyCodeObject *)code)->co_nlocalsplus + ((PyCodeObject *)code)->co_stacksize;
    Py_XDECREF(code);
    return tp->tp_basicsize + slots * tp->tp_itemsize;
#else
    return mel_generic_size(op);
#endif
}

Py_ssize_t mel_bytearray_size(PyObject *op)
{
    PyByteArrayObject *b = (PyByteArrayObject *)op;
    Py_ssize_t size = Py_TYPE(op)->tp_basicsize;

#if PY_VERSION_HEX >= 0x030F0000
    /* 3.15: the buffer is a private bytes object (ob_bytes_object, never
     * listed by any traverse); the empty one is the shared singleton. */
    if (b->ob_bytes_object && Py_SIZE(b->ob_bytes_object) > 0)
        size += PyBytes_Type.tp_basicsize + Py_SIZE(b->ob_bytes_object);
#else
    size += b->ob_alloc;
#endif
    return size;
}

Py_ssize_t mel_code_size(PyObject *op)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyCodeObject *co = (PyCodeObject *)op;
    Py_ssize_t size = round8(Py_TYPE(op)->tp_basicsize + Py_TYPE(op)->tp_itemsize * Py_SIZE(op));

    /* co_extra: _PyCodeObjectExtra {Py_ssize_t ce_size; void *ce_extras[1];} */
    if (co->co_extra) {
        Py_ssize_t n = *(Py_ssize_t *)co->co_extra;
        size += (Py_ssize_t)sizeof(Py_ssize_t) + (n > 0 ? n : 1) * (Py_ssize_t)sizeof(void *);
    }
    return size;
#else
    return mel_generic_size(op);
#endif
}
