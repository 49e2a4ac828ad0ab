/*
 * _scanner_size.c - how many bytes an object occupies (docs/format.md,
 * "Sizes"; the numbers come from CPython's own __sizeof__ implementations
 * plus what they miss).
 *
 * Order of decision for one object:
 *   1. a callable registered with add_special_size for its tp_name;
 *   2. built-in layouts computed here in C, never by calling __sizeof__
 *      (int, str, bytes, bytearray, tuple, list, dict, set, type, code,
 *      frame, generator, module, and everything using object.__sizeof__);
 *   3. a C-level __sizeof__ (a method descriptor defined by a static type:
 *      deque, OrderedDict, array, extension types such as numpy arrays);
 *   4. the generic basicsize + itemsize * len formula, which is also used
 *      for classes whose __sizeof__ is written in Python (never called).
 * Then the pre-header (GC header, managed dict/weakref words) and the
 * instance's managed values (3.11/3.12 separate block, 3.13 inline area)
 * are added.  Static objects (in a loaded ELF image) keep their struct size.
 *
 * Only steps 1 and 3 run code outside this file; step 3 creates one int
 * object per call (for the types listed there only).
 */
#include "_scanner.h"

#include <link.h>
#include <stdlib.h>
#include <string.h>

/* ---- static objects: address ranges of loaded images ------------------ */

typedef struct span {
    uintptr_t lo, hi;
} span;

/* Owned; rebuilt by mel_size_init before each walk; protected by the GIL. */
static span *images;
static size_t nimages, images_cap;

static int phdr_cb(struct dl_phdr_info *info, size_t size, void *data)
{
    int i;

    (void)size;
    (void)data;
    for (i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || ph->p_memsz == 0)
            continue;
        if (nimages == images_cap) {
            size_t ncap = images_cap ? images_cap * 2 : 64;
            span *n = PyMem_RawRealloc(images, ncap * sizeof(span));
            if (!n)
                return 1;
            images = n;
            images_cap = ncap;
        }
        images[nimages].lo = (uintptr_t)info->dlpi_addr + ph->p_vaddr;
        images[nimages].hi = images[nimages].lo + ph->p_memsz;
        nimages++;
    }
    return 0;
}

static int span_cmp(const void *a, const void *b)
{
    const span *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

int mel_is_static(PyObject *op)
{
    uintptr_t a = (uintptr_t)op;
    size_t lo = 0, hi = nimages;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (a < images[mid].lo)
            hi = mid;
        else if (a >= images[mid].hi)
            lo = mid + 1;
        else
            return 1;
    }
    return 0;
}

/* ---- special sizes and the per-type strategy cache -------------------- */

typedef struct special {
    char *name;   /* owned (PyMem_RawMalloc) */
    PyObject *fn; /* owned reference */
} special;

/* Registered by add_special_size; protected by the GIL. */
static special *specials;
static size_t nspecials;

enum strategy { ST_UNKNOWN = 0, ST_GENERIC, ST_CMETHOD };

typedef struct type_slot {
    PyTypeObject *tp; /* borrowed: alive while its objects are */
    int strategy;
    PyObject *descr;  /* ST_CMETHOD: borrowed from the type's MRO dicts */
} type_slot;

/* Cleared by mel_size_reset_cache at the start of each walk. */
static type_slot *type_cache;
static size_t type_cache_cap, type_cache_n;
static PyObject *str_sizeof;       /* interned "__sizeof__", owned */
static PyObject *object_sizeof;    /* object.__sizeof__ descriptor, borrowed */

int mel_size_add_special(const char *name, PyObject *fn)
{
    size_t i;

    for (i = 0; i < nspecials; i++) {
        if (strcmp(specials[i].name, name) == 0) {
            if (fn == Py_None) {
                PyMem_RawFree(specials[i].name);
                Py_DECREF(specials[i].fn);
                specials[i] = specials[--nspecials];
            } else {
                Py_INCREF(fn);
                Py_SETREF(specials[i].fn, fn);
            }
            return 0;
        }
    }
    if (fn == Py_None)
        return 0;
    {
        special *n = PyMem_RawRealloc(specials, (nspecials + 1) * sizeof(special));
        size_t len = strlen(name);
        char *copy;
        if (!n) {
            PyErr_NoMemory();
            return -1;
        }
        specials = n;
        copy = PyMem_RawMalloc(len + 1);
        if (!copy) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(copy, name, len + 1);
        specials[nspecials].name = copy;
        Py_INCREF(fn);
        specials[nspecials].fn = fn;
        nspecials++;
    }
    return 0;
}

void mel_size_reset_cache(void)
{
    if (type_cache)
        memset(type_cache, 0, type_cache_cap * sizeof(type_slot));
    type_cache_n = 0;
}

int mel_size_init(void)
{
    nimages = 0;
    dl_iterate_phdr(phdr_cb, NULL);
    qsort(images, nimages, sizeof(span), span_cmp);
    if (!str_sizeof) {
        str_sizeof = PyUnicode_InternFromString("__sizeof__");
        if (!str_sizeof)
            return -1;
        object_sizeof = _PyType_Lookup(&PyBaseObject_Type, str_sizeof);
    }
    mel_size_reset_cache();
    return 0;
}

static size_t type_hash(const void *p)
{
    uint64_t x = (uint64_t)(uintptr_t)p * 0x9e3779b97f4a7c15ull;
    return (size_t)(x >> 17);
}

/* Nonzero for the built-in types whose layout mel_size_of computes. */
static int is_computed_builtin(PyTypeObject *t)
{
    return t == &PyLong_Type || t == &PyBool_Type || t == &PyUnicode_Type ||
           t == &PyDict_Type || t == &PyList_Type || t == &PySet_Type ||
           t == &PyFrozenSet_Type || t == &PyByteArray_Type || t == &PyTuple_Type ||
           t == &PyBytes_Type || t == &PyType_Type || t == &PyCode_Type ||
           t == &PyFrame_Type || t == &PyGen_Type || t == &PyCoro_Type ||
           t == &PyAsyncGen_Type || t == &PyModule_Type || t == &PyFloat_Type ||
           t == &PyComplex_Type || t == &PyBaseObject_Type;
}

/* Finds or fills the strategy of tp.  Falls back to ST_GENERIC when the
 * cache cannot grow. */
static type_slot *type_strategy(PyTypeObject *tp)
{
    static type_slot fallback;
    type_slot *slot;
    size_t i;

    if (type_cache_n * 2 >= type_cache_cap) {
        size_t ncap = type_cache_cap ? type_cache_cap * 2 : 1024, j;
        type_slot *n = PyMem_RawCalloc(ncap, sizeof(type_slot));
        if (!n) {
            fallback.tp = tp;
            fallback.strategy = ST_GENERIC;
            fallback.descr = NULL;
            return &fallback;
        }
        for (j = 0; j < type_cache_cap; j++) {
            if (type_cache[j].tp) {
                size_t k = type_hash(type_cache[j].tp) & (ncap - 1);
                while (n[k].tp)
                    k = (k + 1) & (ncap - 1);
                n[k] = type_cache[j];
            }
        }
        PyMem_RawFree(type_cache);
        type_cache = n;
        type_cache_cap = ncap;
    }
    i = type_hash(tp) & (type_cache_cap - 1);
    while (type_cache[i].tp && type_cache[i].tp != tp)
        i = (i + 1) & (type_cache_cap - 1);
    slot = &type_cache[i];
    if (slot->tp)
        return slot;
    slot->tp = tp;
    slot->strategy = ST_GENERIC;
    {
        /* _PyType_Lookup walks the MRO dicts; it runs no Python code and
         * sets no exception. */
        /* A method_descriptor is always C code (a Python-level __sizeof__
         * is a function).  Descriptors of the built-in types this file
         * sizes itself are not called. */
        PyObject *d = _PyType_Lookup(tp, str_sizeof);
        if (d && d != object_sizeof && Py_IS_TYPE(d, &PyMethodDescr_Type)) {
            PyTypeObject *owner = ((PyDescrObject *)d)->d_type;
            if (owner && !is_computed_builtin(owner)) {
                slot->strategy = ST_CMETHOD;
                slot->descr = d;
            }
        }
    }
    type_cache_n++;
    return slot;
}

/* ---- building blocks ---------------------------------------------------- */

static Py_ssize_t round8(Py_ssize_t n)
{
    return (n + 7) & ~(Py_ssize_t)7;
}

/* Bytes before the object in its block: GC header and managed words. */
static Py_ssize_t preheader(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    Py_ssize_t n = 0;

    if (PyObject_IS_GC(op))
        n += MEL_GC_HEAD_SIZE;
    if (tp->tp_flags & MEL_PREHEADER_FLAGS)
        n += 2 * (Py_ssize_t)sizeof(PyObject *);
    return n;
}

/* basicsize + itemsize * n, with the hidden extra item of PyType_GenericAlloc
 * for var-sized heap types (rounded to a pointer, as that allocation is). */
static Py_ssize_t var_size(PyTypeObject *tp, Py_ssize_t n)
{
    Py_ssize_t size;

    if (n < 0)
        n = -n;
    size = tp->tp_basicsize + n * tp->tp_itemsize;
    if (tp->tp_itemsize && (tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
        size = round8(size + tp->tp_itemsize);
    return size;
}

static Py_ssize_t generic_size(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);

    if (tp->tp_itemsize)
        return var_size(tp, Py_SIZE(op));
    return tp->tp_basicsize;
}

/* Size of a dict keys table (_PyDict_KeysSize). */
static Py_ssize_t keys_size(mel_dictkeys *k)
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
/* A 3.13 values area (_PyInlineValuesSize): round8(s) + 8*(s+1).  The area
 * was sized with the usable size before this instance's decrement, which
 * happened (s = capacity + 1) while the class's keys still had more than
 * one usable slot; in steady state s = capacity. */
static Py_ssize_t values313_size(const mel_dictvalues *v, mel_dictkeys *keys, int inline_area)
{
    Py_ssize_t s = v->capacity;

    if (inline_area && keys && keys->dk_usable > 1)
        s++;
    return round8(s) + 8 * (s + 1);
}
#endif

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

Py_ssize_t mel_managed_values(PyObject *op, mel_dictkeys **keys, PyObject ***values)
{
#if PY_VERSION_HEX >= 0x030B0000
    PyTypeObject *tp = Py_TYPE(op);
    mel_dictkeys *k;
    Py_ssize_t n;

    *keys = NULL;
    *values = NULL;
    if (!(tp->tp_flags & Py_TPFLAGS_MANAGED_DICT) || !(tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return 0;
    k = (mel_dictkeys *)((PyHeapTypeObject *)tp)->ht_cached_keys;
    if (!k)
        return 0;
    n = k->dk_nentries;
#if PY_VERSION_HEX >= 0x030D0000
    /* 3.13: inline values right after the object, valid until a dict takes
     * over (Include/internal/pycore_object.h, _PyObject_InlineValues). */
    if (!(tp->tp_flags & Py_TPFLAGS_INLINE_VALUES))
        return 0;
    {
        mel_dictvalues *v = (mel_dictvalues *)((char *)op + tp->tp_basicsize);
        if (!v->valid)
            return 0;
        if (n > v->capacity)
            n = v->capacity;
        *values = v->values;
    }
#elif PY_VERSION_HEX >= 0x030C0000
    /* 3.12: word -3 is a tagged pointer; low bit set = values - 1. */
    {
        uintptr_t dorv = ((uintptr_t *)op)[-3];
        if (!(dorv & 1))
            return 0;
        *values = (PyObject **)(dorv + 1);
    }
#else
    /* 3.11: word -4 is the values pointer (NULL once a dict exists). */
    {
        PyObject **v = ((PyObject ***)op)[-4];
        if (!v)
            return 0;
        *values = v;
    }
#endif
    *keys = k;
    return n;
#else
    (void)op;
    *keys = NULL;
    *values = NULL;
    return 0;
#endif
}

/* Bytes of the instance's managed values that its own block does not show
 * (3.11/3.12: the separate block; 3.13: the inline area). */
static Py_ssize_t managed_values_size(PyObject *op)
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
    return values313_size((mel_dictvalues *)((char *)op + tp->tp_basicsize), k, 1);
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

/* ---- built-in layouts ----------------------------------------------------*/

static Py_ssize_t int_size(PyObject *op, int is_static)
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
#else
        Py_ssize_t size = tp->tp_basicsize + 4 * nd;
#endif
#if PY_VERSION_HEX >= 0x030B0000
        /* One-digit ints made at run time come from _PyLong_FromMedium
         * (3.11+), which requests sizeof(PyLongObject) = 32. */
        if (nd == 1 && !is_static && tp == &PyLong_Type)
            size = 32;
#else
        (void)is_static;
#endif
        return size;
    }
    return var_size(tp, nd < 1 ? 1 : nd);
}

static Py_ssize_t str_size(PyObject *op)
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

static Py_ssize_t dict_size(PyObject *op)
{
    PyDictObject *mp = (PyDictObject *)op;
    mel_dictkeys *k = (mel_dictkeys *)mp->ma_keys;
    Py_ssize_t size = Py_TYPE(op)->tp_basicsize;

    if (mp->ma_values) {
#if PY_VERSION_HEX >= 0x030D0000
        mel_dictvalues *v = (mel_dictvalues *)mp->ma_values;
        /* Embedded values belong to the instance's block. */
        if (!v->embedded)
            size += values313_size(v, k, 0);
#elif PY_VERSION_HEX >= 0x030B0000
        size += values_block_size((PyObject **)mp->ma_values, k);
#else
        size += ((k->dk_size << 1) / 3) * (Py_ssize_t)sizeof(PyObject *);
#endif
    }
    /* Shared keys belong to the class (counted there); own keys here. */
    if (k && k->dk_refcnt == 1)
        size += keys_size(k);
    return size;
}

static Py_ssize_t type_size(PyObject *op)
{
    PyTypeObject *t = (PyTypeObject *)op;
    PyTypeObject *meta = Py_TYPE(op);
    Py_ssize_t size;

    /* A static type is a bare PyTypeObject in its image (no GC header). */
    if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
        return (Py_ssize_t)sizeof(PyTypeObject);
    /* type_new_alloc: metatype->tp_alloc(metatype, nslots) (one PyMemberDef
     * per slot, plus the hidden extra item of PyType_GenericAlloc). */
    size = round8(meta->tp_basicsize + meta->tp_itemsize * (Py_SIZE(op) + 1));
    {
        mel_dictkeys *k = (mel_dictkeys *)((PyHeapTypeObject *)t)->ht_cached_keys;
        if (k)
            size += keys_size(k);
    }
    /* The heap copy of the docstring (type_new_set_doc). */
    if (t->tp_doc)
        size += (Py_ssize_t)strlen(t->tp_doc) + 1;
    return size;
}

#if PY_VERSION_HEX >= 0x030B0000
static Py_ssize_t code_size(PyObject *op)
{
    PyCodeObject *co = (PyCodeObject *)op;
    Py_ssize_t size = round8(Py_TYPE(op)->tp_basicsize + Py_TYPE(op)->tp_itemsize * Py_SIZE(op));

    /* co_extra: _PyCodeObjectExtra {Py_ssize_t ce_size; void *ce_extras[1];} */
    if (co->co_extra) {
        Py_ssize_t n = *(Py_ssize_t *)co->co_extra;
        size += (Py_ssize_t)sizeof(Py_ssize_t) + (n > 0 ? n : 1) * (Py_ssize_t)sizeof(void *);
    }
    return size;
}
#endif

static Py_ssize_t module_size(PyObject *op)
{
    Py_ssize_t size = Py_TYPE(op)->tp_basicsize;
    PyModuleDef *def = PyModule_GetDef(op);

    if (def && def->m_size > 0)
        size += def->m_size;
    PyErr_Clear(); /* PyModule_GetDef sets nothing for modules; defensive */
    return size;
}

/* Calls fn(op) and returns a non-negative size, or -1 (clearing any error:
 * a failing or nonsensical callback means "unknown", as in the classic). */
static Py_ssize_t call_size(PyObject *fn, PyObject *op)
{
    PyObject *r = PyObject_CallOneArg(fn, op);
    Py_ssize_t n = -1;

    if (r) {
        if (PyLong_Check(r))
            n = PyLong_AsSsize_t(r);
        Py_DECREF(r);
    }
    if (PyErr_Occurred())
        PyErr_Clear(); /* documented: callback errors fall back */
    return n < 0 ? -1 : n;
}

Py_ssize_t mel_size_of(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);
    int is_static = mel_is_static(op);
    Py_ssize_t size = -1;

    if (nspecials) {
        size_t i;
        for (i = 0; i < nspecials; i++) {
            if (strcmp(specials[i].name, tp->tp_name) == 0) {
                size = call_size(specials[i].fn, op);
                break;
            }
        }
        if (size >= 0)
            return size + preheader(op) + managed_values_size(op);
    }
    if (PyType_Check(op))
        return type_size(op) + (is_static ? 0 : preheader(op));
    /* Subclasses of the computed built-ins that bring their own C-level
     * __sizeof__ (OrderedDict, ...) are sized by it. */
    if (!is_computed_builtin(tp)) {
        type_slot *slot = type_strategy(tp);
        if (slot->strategy == ST_CMETHOD) {
            size = call_size(slot->descr, op);
            if (size >= 0)
                return size + preheader(op) + managed_values_size(op);
        }
    }
    if (PyLong_Check(op))
        size = int_size(op, is_static);
    else if (PyUnicode_Check(op))
        size = str_size(op);
    else if (PyDict_Check(op))
        size = dict_size(op);
    else if (PyList_Check(op))
        size = tp->tp_basicsize + ((PyListObject *)op)->allocated * (Py_ssize_t)sizeof(PyObject *);
    else if (PyAnySet_Check(op)) {
        PySetObject *so = (PySetObject *)op;
        size = tp->tp_basicsize;
        if (so->table != so->smalltable)
            size += (so->mask + 1) * (Py_ssize_t)sizeof(setentry);
    } else if (PyByteArray_Check(op))
        size = tp->tp_basicsize + ((PyByteArrayObject *)op)->ob_alloc;
    else if (PyTuple_Check(op) || PyBytes_Check(op) || PyFrame_Check(op) || PyGen_Check(op) ||
             PyCoro_CheckExact(op) || PyFloat_Check(op) || PyComplex_Check(op))
        size = generic_size(op);
    else if (PyModule_Check(op))
        size = module_size(op);
#if PY_VERSION_HEX >= 0x030B0000
    else if (PyCode_Check(op))
        size = code_size(op);
#endif
    else
        size = generic_size(op);
    return size + preheader(op) + managed_values_size(op);
}
