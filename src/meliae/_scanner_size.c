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
 * instance's managed values (3.11/3.12 separate block, 3.13+ inline area)
 * are added (the layouts of each version are read in _scanner_compat.c).  Static objects (in a loaded ELF image) keep their struct size.
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
           t == &PyComplex_Type || t == &PyBaseObject_Type || mel_type_is_frozendict(t);
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

/* basicsize + itemsize * n, with the hidden extra item of PyType_GenericAlloc
 * for var-sized heap types (rounded to a pointer, as that allocation is). */
Py_ssize_t mel_var_size(PyTypeObject *tp, Py_ssize_t n)
{
    Py_ssize_t size;

    if (n < 0)
        n = -n;
    size = tp->tp_basicsize + n * tp->tp_itemsize;
    if (tp->tp_itemsize && (tp->tp_flags & Py_TPFLAGS_HEAPTYPE))
        size = round8(size + tp->tp_itemsize);
    return size;
}

Py_ssize_t mel_generic_size(PyObject *op)
{
    PyTypeObject *tp = Py_TYPE(op);

    if (tp->tp_itemsize)
        return mel_var_size(tp, Py_SIZE(op));
    return tp->tp_basicsize;
}

/* ---- built-in layouts ----------------------------------------------------*/

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
            size += mel_keys_size(k);
    }
    /* The heap copy of the docstring (type_new_set_doc). */
    if (t->tp_doc)
        size += (Py_ssize_t)strlen(t->tp_doc) + 1;
    return size;
}

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
            return size + mel_preheader_size(op) + mel_managed_values_size(op);
    }
    if (PyType_Check(op))
        return type_size(op) + (is_static ? 0 : mel_preheader_size(op));
    /* Subclasses of the computed built-ins that bring their own C-level
     * __sizeof__ (OrderedDict, ...) are sized by it. */
    if (!is_computed_builtin(tp)) {
        type_slot *slot = type_strategy(tp);
        if (slot->strategy == ST_CMETHOD) {
            size = call_size(slot->descr, op);
            if (size >= 0)
                return size + mel_preheader_size(op) + mel_managed_values_size(op);
        }
    }
    if (PyLong_Check(op))
        size = mel_int_size(op, is_static);
    else if (PyUnicode_Check(op))
        size = mel_str_size(op);
    else if (mel_any_dict(op))
        size = mel_dict_size(op);
    else if (PyList_Check(op))
        size = tp->tp_basicsize + ((PyListObject *)op)->allocated * (Py_ssize_t)sizeof(PyObject *);
    else if (PyAnySet_Check(op)) {
        PySetObject *so = (PySetObject *)op;
        size = tp->tp_basicsize;
        if (so->table != so->smalltable)
            size += (so->mask + 1) * (Py_ssize_t)sizeof(setentry);
    } else if (PyByteArray_Check(op))
        size = mel_bytearray_size(op);
    else if (PyFrame_Check(op) || PyGen_Check(op) || PyCoro_CheckExact(op) ||
             PyAsyncGen_CheckExact(op))
        size = mel_frame_like_size(op);
    else if (PyTuple_Check(op) || PyBytes_Check(op) || PyFloat_Check(op) || PyComplex_Check(op))
        size = mel_generic_size(op);
    else if (PyModule_Check(op))
        size = module_size(op);
    else if (PyCode_Check(op))
        size = mel_code_size(op);
    else
        size = mel_generic_size(op);
    return size + mel_preheader_size(op) + mel_managed_values_size(op);
}
