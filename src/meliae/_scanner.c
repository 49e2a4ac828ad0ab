/*
 * _scanner.c - meliae._scanner: walk the live CPython heap and hand every
 * object to the libmeliae dump writer (docs/format.md).
 *
 * The walk holds the GIL throughout and creates no Python object per dumped
 * object.  Its state is C memory: a seen-set (_scanner_seen.c) marking each
 * object when it is queued, an explicit stack of queued objects and a
 * reusable array of referent addresses.  There is no C recursion over the
 * object graph.
 *
 * Every queued object holds a strong reference until it is written.  The
 * walk itself never releases the GIL, but a special-size callback or the
 * write() method of a Python file object may; the references keep queued
 * objects alive (and their borrowed text valid) if another thread mutates
 * containers meanwhile.
 *
 * Referents of one object, in order:
 *   - dicts: every key, value pair (PyDict_Next; runs no Python code), also
 *     for str-keyed dicts whose tp_traverse skips the keys;
 *   - instances with managed values (3.11+): name, value pairs read from the
 *     class's shared keys and the values (never materializing __dict__),
 *     then the rest of tp_traverse without repeating those values; when a
 *     __dict__ was materialized over the values (3.13+), that dict instead
 *     (it lists the values), as tp_traverse lists it on earlier versions;
 *   - types: tp_traverse for heap types (classic order), then the names,
 *     __slots__ and subclasses dict; static types: dict, mro, bases, base;
 *   - code: the object fields (code has no tp_traverse);
 *   - executing frames (3.11+): tp_traverse, then the interpreter frame's
 *     code, function, globals, builtins, locals and local variables (3.14+:
 *     and its live value stack), and the calling frame;
 *   - everything else: tp_traverse.
 * The object's type is queued too (so every type gets a line) but is listed
 * in refs only where tp_traverse lists it.
 *
 * Every read of a version-specific layout goes through _scanner_compat.h.
 */
#define PY_SSIZE_T_CLEAN
#include "_scanner.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================
 * The walker
 * ==================================================================== */

typedef struct walker {
    mel_seen *seen;       /* owned; NULL when the caller does not queue */
    PyObject **stack;     /* owned array; each entry holds a strong reference */
    size_t nstack, stack_cap;
    uint64_t *refs;       /* owned; referent addresses of the current object */
    size_t nrefs, refs_cap;
    int queue;            /* visit queues unseen referents */
    int follow_tracked;   /* 0: do not queue GC-tracked referents (gc mode) */
    int queue_types;      /* queue each object's type as well */
    int err;              /* sticky MEL_E* raised inside a visit callback */
    char *scratch;        /* owned; UTF-8 qualname of a type */
    size_t scratch_len, scratch_cap;
    PyObject *hold[4];    /* strong references kept while one line is written */
    int nhold;
} walker;

static PyObject *str_module; /* interned "__module__", owned by the module */

static int walker_init(walker *w, int queue)
{
    memset(w, 0, sizeof *w);
    w->queue = queue;
    w->follow_tracked = 1;
    w->queue_types = 1;
    if (queue) {
        w->seen = mel_seen_new();
        if (!w->seen) {
            PyErr_NoMemory();
            return -1;
        }
    }
    return 0;
}

static void walker_release_holds(walker *w)
{
    while (w->nhold > 0) {
        PyObject *op = w->hold[--w->nhold];
        w->hold[w->nhold] = NULL;
        Py_DECREF(op);
    }
}

static void walker_fini(walker *w)
{
    while (w->nstack > 0) {
        PyObject *op = w->stack[--w->nstack];
        Py_DECREF(op);
    }
    walker_release_holds(w);
    PyMem_RawFree(w->stack);
    PyMem_RawFree(w->refs);
    PyMem_RawFree(w->scratch);
    mel_seen_free(w->seen);
    memset(w, 0, sizeof *w);
}

/* Queues op with a new strong reference.  0, or -1 (w->err = ENOMEM). */
static int push(walker *w, PyObject *op)
{
    if (w->nstack == w->stack_cap) {
        size_t ncap = w->stack_cap ? w->stack_cap * 2 : 4096;
        PyObject **n = PyMem_RawRealloc(w->stack, ncap * sizeof(PyObject *));
        if (!n) {
            w->err = MEL_ENOMEM;
            return -1;
        }
        w->stack = n;
        w->stack_cap = ncap;
    }
    Py_INCREF(op);
    w->stack[w->nstack++] = op;
    return 0;
}

/* Marks op seen and queues it if it was not.  0, or -1 on ENOMEM. */
static int mark_and_push(walker *w, PyObject *op)
{
    int r = mel_seen_add(w->seen, (uintptr_t)op);

    if (r < 0) {
        w->err = MEL_ENOMEM;
        return -1;
    }
    return r ? push(w, op) : 0;
}

static int refs_append(walker *w, uint64_t a)
{
    if (w->nrefs == w->refs_cap) {
        size_t ncap = w->refs_cap ? w->refs_cap * 2 : 256;
        uint64_t *n = PyMem_RawRealloc(w->refs, ncap * sizeof(uint64_t));
        if (!n) {
            w->err = MEL_ENOMEM;
            return -1;
        }
        w->refs = n;
        w->refs_cap = ncap;
    }
    w->refs[w->nrefs++] = a;
    return 0;
}

/* The visitproc: records child and queues it when unseen.  Returns nonzero
 * (stopping tp_traverse) only on memory exhaustion, recorded in w->err. */
static int visit_ref(PyObject *child, void *arg)
{
    walker *w = arg;

    if (!child)
        return 0;
    if (refs_append(w, (uint64_t)(uintptr_t)child) < 0)
        return -1;
    if (w->queue) {
        if (!w->follow_tracked && PyObject_IS_GC(child) && PyObject_GC_IsTracked(child))
            return 0;
        return mark_and_push(w, child) < 0 ? -1 : 0;
    }
    return 0;
}

#define VISIT(w, o)                                      \
    do {                                                 \
        if (visit_ref((PyObject *)(o), (w)) != 0)        \
            return -1;                                   \
    } while (0)

/* Managed attribute values dropped from tp_traverse's output: a class's
 * shared keys hold at most 30 names (SHARED_KEYS_MAX_SIZE); larger inline
 * areas would only list a value twice. */
#define MEL_DROP_MAX 64

/* Removes from refs[from..] the first occurrence of each value in vals. */
static void drop_repeats(walker *w, size_t from, const uint64_t *vals, size_t n)
{
    size_t i, j;

    for (i = 0; i < n; i++) {
        for (j = from; j < w->nrefs; j++) {
            if (w->refs[j] == vals[i]) {
                memmove(&w->refs[j], &w->refs[j + 1], (w->nrefs - j - 1) * sizeof(uint64_t));
                w->nrefs--;
                break;
            }
        }
    }
}

static int type_refs(walker *w, PyObject *op)
{
    PyTypeObject *t = (PyTypeObject *)op;

    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)op;
        if (Py_TYPE(op)->tp_traverse && Py_TYPE(op)->tp_traverse(op, visit_ref, w) != 0)
            return -1;
        VISIT(w, ht->ht_name);
        VISIT(w, ht->ht_qualname);
        VISIT(w, ht->ht_slots);
        VISIT(w, mel_type_subclasses(t));
        return 0;
    }
    /* Static types: type_traverse must not run on them; read the fields. */
    {
        PyObject *d = mel_type_dict(t);
        if (d) {
            int rc = visit_ref(d, w);
            Py_DECREF(d);
            if (rc)
                return -1;
        }
    }
    VISIT(w, t->tp_mro);
    VISIT(w, t->tp_bases);
    VISIT(w, t->tp_base);
    VISIT(w, mel_type_subclasses(t));
    return 0;
}

static int code_refs(walker *w, PyObject *op)
{
    PyObject *fields[MEL_CODE_FIELDS_MAX];
    int i, n = mel_code_fields((PyCodeObject *)op, fields);

    for (i = 0; i < n; i++)
        VISIT(w, fields[i]);
    return 0;
}

/* Collects the referents of op into w->refs (queuing unseen ones).
 * *kv receives the number of leading key, value pairs.  0 or -1. */
static int collect_refs(walker *w, PyObject *op, size_t *kv)
{
    PyTypeObject *tp = Py_TYPE(op);

    w->nrefs = 0;
    *kv = 0;
    if (mel_any_dict(op)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        size_t pairs = 0;
        while (PyDict_Next(op, &pos, &k, &v)) {
            VISIT(w, k);
            VISIT(w, v);
            pairs++;
        }
        *kv = pairs;
        /* Subclasses: their own slots, __dict__ and type come from
         * tp_traverse, which repeats the values (harmless, documented). */
        if (!mel_any_dict_exact(op) && tp->tp_traverse && tp->tp_traverse(op, visit_ref, w) != 0)
            return -1;
        return 0;
    }
    if (PyType_Check(op))
        return type_refs(w, op);
    if (PyCode_Check(op))
        return code_refs(w, op);
    {
        mel_attrs a;
        Py_ssize_t i;
        uint64_t vals[MEL_DROP_MAX];
        size_t nvals = 0, pairs = 0, start;

        mel_instance_attrs(op, &a);
        /* A materialized __dict__ that tp_traverse does not list: listed
         * first, as tp_traverse lists a dict on the other versions. */
        if (a.dict)
            VISIT(w, a.dict);
        for (i = 0; i < a.nvalues; i++) {
            PyObject *v = a.values[i];
            if (!v)
                continue;
            if (i < a.n) {
                VISIT(w, mel_keys_name(a.keys, i));
                VISIT(w, v);
                pairs++;
            }
            if (nvals < MEL_DROP_MAX)
                vals[nvals++] = (uint64_t)(uintptr_t)v;
        }
        *kv = pairs;
        start = w->nrefs;
        if (tp->tp_traverse && tp->tp_traverse(op, visit_ref, w) != 0)
            return -1;
        /* tp_traverse visits the values again: once is enough. */
        if (nvals)
            drop_repeats(w, start, vals, nvals);
    }
    if (PyFrame_Check(op) && mel_frame_refs(op, visit_ref, w) != 0)
        return -1;
    return 0;
}

/* ======================================================================
 * Records
 * ==================================================================== */

static void text_of_str(PyObject *s, mel_text *t)
{
    memset(t, 0, sizeof *t);
    if (!mel_str_ready(s))
        return;
    t->data = PyUnicode_DATA(s);
    t->len = (size_t)PyUnicode_GET_LENGTH(s);
    t->kind = (int)PyUnicode_KIND(s); /* 1, 2, 4 = MEL_TEXT_LATIN1/UCS2/UCS4 */
}

static int scratch_reserve(walker *w, size_t more)
{
    if (w->scratch_len + more > w->scratch_cap) {
        size_t ncap = (w->scratch_len + more) * 2;
        char *n = PyMem_RawRealloc(w->scratch, ncap);
        if (!n)
            return -1;
        w->scratch = n;
        w->scratch_cap = ncap;
    }
    return 0;
}

static int scratch_bytes(walker *w, const char *s, size_t n)
{
    if (scratch_reserve(w, n) < 0)
        return -1;
    memcpy(w->scratch + w->scratch_len, s, n);
    w->scratch_len += n;
    return 0;
}

/* Appends str s as UTF-8 (surrogates as three-byte WTF-8, which the writer
 * turns back into \udXXX).  Needs no allocation from Python. */
static int scratch_str(walker *w, PyObject *s)
{
    Py_ssize_t i, n;
    int kind;
    const void *data;

    if (!mel_str_ready(s))
        return scratch_bytes(w, "?", 1);
    n = PyUnicode_GET_LENGTH(s);
    kind = PyUnicode_KIND(s);
    data = PyUnicode_DATA(s);
    if (scratch_reserve(w, (size_t)n * 4) < 0)
        return -1;
    for (i = 0; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        char *p = w->scratch + w->scratch_len;
        if (c < 0x80) {
            p[0] = (char)c;
            w->scratch_len += 1;
        } else if (c < 0x800) {
            p[0] = (char)(0xc0 | (c >> 6));
            p[1] = (char)(0x80 | (c & 0x3f));
            w->scratch_len += 2;
        } else if (c < 0x10000) {
            p[0] = (char)(0xe0 | (c >> 12));
            p[1] = (char)(0x80 | ((c >> 6) & 0x3f));
            p[2] = (char)(0x80 | (c & 0x3f));
            w->scratch_len += 3;
        } else {
            p[0] = (char)(0xf0 | (c >> 18));
            p[1] = (char)(0x80 | ((c >> 12) & 0x3f));
            p[2] = (char)(0x80 | ((c >> 6) & 0x3f));
            p[3] = (char)(0x80 | (c & 0x3f));
            w->scratch_len += 4;
        }
    }
    return 0;
}

static void hold(walker *w, PyObject *op)
{
    if (op && w->nhold < 4) {
        Py_INCREF(op);
        w->hold[w->nhold++] = op;
    }
}

/* Fills the type's qualname ("module.QualName", "builtins.int") into the
 * scratch buffer.  0, or -1 on memory exhaustion. */
static int type_qualname(walker *w, PyTypeObject *t)
{
    w->scratch_len = 0;
    if (t->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        PyHeapTypeObject *ht = (PyHeapTypeObject *)t;
        PyObject *mod = NULL;
        PyObject *d = mel_type_dict(t);
        /* An exact dict looked up with an interned str key whose hash is
         * cached: no Python code runs. */
        if (d && PyDict_CheckExact(d))
            mod = PyDict_GetItemWithError(d, str_module);
        if (PyErr_Occurred())
            PyErr_Clear(); /* lookup failure: treated as no module */
        if (mod && PyUnicode_Check(mod)) {
            if (scratch_str(w, mod) < 0 || scratch_bytes(w, ".", 1) < 0) {
                Py_XDECREF(d);
                return -1;
            }
        }
        Py_XDECREF(d);
        if (ht->ht_qualname && PyUnicode_Check(ht->ht_qualname))
            return scratch_str(w, ht->ht_qualname);
        return scratch_bytes(w, t->tp_name, strlen(t->tp_name));
    }
    if (!strchr(t->tp_name, '.') && scratch_bytes(w, "builtins.", 9) < 0)
        return -1;
    return scratch_bytes(w, t->tp_name, strlen(t->tp_name));
}

/* Writes op's line from w->refs.  Returns MEL_OK or a MEL_E* code. */
static int write_record(walker *w, mel_writer *wr, PyObject *op, size_t kv)
{
    PyTypeObject *tp = Py_TYPE(op);
    mel_object o;
    int rc;

    memset(&o, 0, sizeof o);
    o.address = (uint64_t)(uintptr_t)op;
    o.size = (uint64_t)mel_size_of(op);
    /* Keep the type's name alive while the line is written (a heap type's
     * tp_name points into its __name__). */
    if (tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
        hold(w, ((PyHeapTypeObject *)tp)->ht_name);
    hold(w, (PyObject *)tp);
    o.type_name = tp->tp_name;
    o.type_address = (uint64_t)(uintptr_t)tp;
    o.len = -1;
    if (mel_is_static(op))
        o.flags |= MEL_OBJ_STATIC;

    if (PyModule_Check(op)) {
        PyObject *name = PyModule_GetNameObject(op);
        if (name) {
            hold(w, name);
            Py_DECREF(name);
            text_of_str(name, &o.name);
        } else {
            PyErr_Clear(); /* a module without a str __name__: no "name" key */
        }
    } else if (PyFunction_Check(op)) {
        PyObject *name = ((PyFunctionObject *)op)->func_name;
        if (name && PyUnicode_Check(name)) {
            hold(w, name);
            text_of_str(name, &o.name);
        }
    } else if (PyType_Check(op)) {
        PyTypeObject *t = (PyTypeObject *)op;
        if (t->tp_flags & Py_TPFLAGS_HEAPTYPE)
            hold(w, ((PyHeapTypeObject *)t)->ht_name);
        o.name.data = t->tp_name;
        o.name.len = strlen(t->tp_name);
        o.name.kind = MEL_TEXT_UTF8;
        if (type_qualname(w, t) < 0)
            return MEL_ENOMEM;
        o.qualname.data = w->scratch;
        o.qualname.len = w->scratch_len;
        o.qualname.kind = MEL_TEXT_UTF8;
    }

    if (PyUnicode_Check(op)) {
        text_of_str(op, &o.value);
        if (o.value.data) {
            o.len = (int64_t)o.value.len;
            o.value_kind = MEL_VALUE_TEXT;
        } else {
            o.value_kind = MEL_VALUE_NULL;
        }
    } else if (PyBytes_Check(op)) {
        o.len = PyBytes_GET_SIZE(op);
        o.value.data = PyBytes_AS_STRING(op);
        o.value.len = (size_t)PyBytes_GET_SIZE(op);
        o.value.kind = MEL_TEXT_BYTES;
        o.value_kind = MEL_VALUE_TEXT;
    } else if (PyBool_Check(op)) {
        o.value_kind = MEL_VALUE_BOOL;
        o.value_int = op == Py_True;
    } else if (PyLong_CheckExact(op)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(op, &overflow);
        if (!overflow && !(v == -1 && PyErr_Occurred())) {
            o.value_kind = MEL_VALUE_INT;
            o.value_int = v;
        }
        PyErr_Clear(); /* an exact int cannot fail except by overflow */
    } else if (PyTuple_Check(op)) {
        o.len = PyTuple_GET_SIZE(op);
    } else if (PyList_Check(op)) {
        o.len = PyList_GET_SIZE(op);
    } else if (PyAnySet_Check(op)) {
        o.len = PySet_GET_SIZE(op);
    } else if (mel_any_dict(op)) {
        o.len = PyDict_GET_SIZE(op);
    } else if (PyByteArray_Check(op)) {
        o.len = PyByteArray_GET_SIZE(op);
    } else if (PyFrame_Check(op)) {
        PyCodeObject *code = PyFrame_GetCode((PyFrameObject *)op);
        if (code) {
            if (code->co_name && PyUnicode_Check(code->co_name)) {
                hold(w, code->co_name);
                text_of_str(code->co_name, &o.value);
                if (o.value.data)
                    o.value_kind = MEL_VALUE_TEXT;
            }
            Py_DECREF(code);
        }
    }

    o.refs = w->refs;
    o.nrefs = w->nrefs;
    o.kv_pairs = PyDict_CheckExact(op) ? 0 : kv;
    rc = mel_writer_object(wr, &o);
    walker_release_holds(w);
    return rc;
}

/* Writes op (the caller holds a reference) and queues what it references.
 * Returns MEL_OK or a MEL_E* code. */
static int emit(walker *w, mel_writer *wr, PyObject *op)
{
    size_t kv = 0;

    if (collect_refs(w, op, &kv) < 0)
        return w->err ? w->err : MEL_ENOMEM;
    if (w->queue && w->queue_types && mark_and_push(w, (PyObject *)Py_TYPE(op)) < 0)
        return MEL_ENOMEM;
    return write_record(w, wr, op, kv);
}

/* Writes everything queued.  Returns MEL_OK or a MEL_E* code. */
static int drain(walker *w, mel_writer *wr)
{
    while (w->nstack > 0) {
        PyObject *op = w->stack[--w->nstack];
        int rc = emit(w, wr, op);
        Py_DECREF(op);
        if (rc != MEL_OK)
            return rc;
    }
    return MEL_OK;
}

/* ======================================================================
 * Dump driver
 * ==================================================================== */

enum dump_mode { MODE_ALL, MODE_REFERENCED, MODE_GC };

#define MAX_ROOTS 4096

typedef struct dump_state {
    walker w;
    mel_writer *wr;
    mel_sink sink;
    int sink_open;
    PyObject *gc_list;          /* owned: gc.get_objects() */
    PyObject *argv_bytes;       /* owned list of UTF-8 bytes of sys.argv */
    const char **argv;          /* PyMem_RawMalloc'd, borrowed strings */
    size_t argc;
    PyObject *root_objs[MAX_ROOTS]; /* owned references */
    mel_root roots[MAX_ROOTS];
    char root_names[MAX_ROOTS][80];
    size_t nroots;
} dump_state;

static void add_root(dump_state *st, const char *kind, const char *name, PyObject *op)
{
    if (!op || st->nroots >= MAX_ROOTS)
        return;
    Py_INCREF(op);
    st->root_objs[st->nroots] = op;
    st->roots[st->nroots].kind = kind;
    snprintf(st->root_names[st->nroots], sizeof st->root_names[0], "%s", name);
    st->roots[st->nroots].name = st->root_names[st->nroots];
    st->roots[st->nroots].address = (uint64_t)(uintptr_t)op;
    st->nroots++;
}

/* "thread ID NAME" into buf: NAME is the threading.Thread's name when the
 * threading module is loaded and knows the thread, cut at a character
 * boundary to fit.  Reads the instance attribute _name (no property or
 * user code on the usual path) and clears any error it meets. */
static void thread_label(char *buf, size_t n, unsigned long id, PyObject *active)
{
    PyObject *key, *th, *name = NULL;
    const char *text;
    size_t used, len;

    snprintf(buf, n, "thread %lu", id);
    if (!active || !PyDict_Check(active))
        return;
    key = PyLong_FromUnsignedLong(id);
    if (!key)
        goto done;
    th = PyDict_GetItemWithError(active, key);
    Py_DECREF(key);
    if (!th)
        goto done;
    Py_INCREF(th);
    name = PyObject_GetAttrString(th, "_name");
    Py_DECREF(th);
    if (!name || !PyUnicode_Check(name))
        goto done;
    text = PyUnicode_AsUTF8(name);
    if (!text)
        goto done;
    used = strlen(buf);
    len = strlen(text);
    if (used + 1 + len >= n) {
        len = n - used - 2;
        while (len > 0 && ((unsigned char)text[len] & 0xC0) == 0x80)
            len--;
    }
    snprintf(buf + used, n - used, " %.*s", (int)len, text);
done:
    Py_XDECREF(name);
    PyErr_Clear();
}

/* Interpreter roots: sys.modules, builtins, sys.__dict__ and every thread's
 * innermost frame.  Frame objects of running frames are created here
 * (CPython 3.11+ creates them lazily) for each thread's whole stack, so the
 * walk later finds them without allocating.  0 or -1 with exception. */
static int collect_roots(dump_state *st)
{
    PyThreadState *ts = PyThreadState_Get();
    PyInterpreterState *interp = PyThreadState_GetInterpreter(ts);
    PyObject *modules = PyImport_GetModuleDict();
    PyObject *sysmod, *threading, *active = NULL;
    PyThreadState *t;

    add_root(st, "modules", "sys.modules", modules);
    add_root(st, "builtins", "builtins", PyEval_GetBuiltins());
    sysmod = PyDict_GetItemString(modules, "sys");
    if (sysmod && PyModule_Check(sysmod))
        add_root(st, "sys", "sys.__dict__", PyModule_GetDict(sysmod));
    threading = PyDict_GetItemString(modules, "threading");
    if (threading && PyModule_Check(threading))
        active = PyDict_GetItemString(PyModule_GetDict(threading), "_active");
    Py_XINCREF(active);
    for (t = PyInterpreterState_ThreadHead(interp); t; t = PyThreadState_Next(t)) {
        PyFrameObject *f = PyThreadState_GetFrame(t);
        char name[80];
        if (!f) {
            if (PyErr_Occurred())
                goto error;
            continue;
        }
        thread_label(name, sizeof name, (unsigned long)t->thread_id, active);
        add_root(st, "thread", name, (PyObject *)f);
        while (f) {
            PyFrameObject *back = PyFrame_GetBack(f);
            Py_DECREF(f);
            f = back;
        }
        if (PyErr_Occurred())
            goto error;
    }
    Py_XDECREF(active);
    return 0;
error:
    Py_XDECREF(active);
    return -1;
}

static int collect_argv(dump_state *st)
{
    PyObject *argv = PySys_GetObject("argv"); /* borrowed */
    Py_ssize_t i, n;

    st->argv_bytes = PyList_New(0);
    if (!st->argv_bytes)
        return -1;
    if (!argv || !PyList_Check(argv))
        return 0;
    n = PyList_GET_SIZE(argv);
    for (i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(argv, i);
        PyObject *b;
        if (!PyUnicode_Check(item))
            continue;
        b = PyUnicode_AsEncodedString(item, "utf-8", "surrogatepass");
        if (!b)
            return -1;
        if (PyList_Append(st->argv_bytes, b) < 0) {
            Py_DECREF(b);
            return -1;
        }
        Py_DECREF(b);
    }
    n = PyList_GET_SIZE(st->argv_bytes);
    st->argv = PyMem_RawCalloc((size_t)n + 1, sizeof(char *));
    if (!st->argv) {
        PyErr_NoMemory();
        return -1;
    }
    for (i = 0; i < n; i++)
        st->argv[i] = PyBytes_AS_STRING(PyList_GET_ITEM(st->argv_bytes, i));
    st->argc = (size_t)n;
    return 0;
}

static PyObject *get_gc_objects(void)
{
    PyObject *gc = PyImport_ImportModule("gc");
    PyObject *lst;

    if (!gc)
        return NULL;
    lst = PyObject_CallMethod(gc, "get_objects", NULL);
    Py_DECREF(gc);
    if (lst && !PyList_Check(lst)) {
        Py_DECREF(lst);
        PyErr_SetString(PyExc_TypeError, "gc.get_objects() did not return a list");
        return NULL;
    }
    return lst;
}

/* Raises the Python exception for a failed dump.  rc is a MEL_E* code. */
static void raise_for(dump_state *st, int rc)
{
    if (mel_sink_close(&st->sink)) { /* a write() exception wins */
        st->sink_open = 0;
        return;
    }
    st->sink_open = 0;
    if (PyErr_Occurred())
        return;
    if (rc == MEL_EIO) {
        int e = st->wr ? mel_writer_errno(st->wr) : 0;
        errno = e ? e : EIO;
        PyErr_SetFromErrno(PyExc_OSError);
    } else if (rc == MEL_ENOMEM) {
        PyErr_NoMemory();
    } else {
        PyErr_Format(PyExc_RuntimeError, "dump failed: %s", mel_strerror(rc));
    }
}

static void dump_state_fini(dump_state *st)
{
    size_t i;

    walker_fini(&st->w);
    mel_writer_free(st->wr);
    if (st->sink_open)
        (void)mel_sink_close(&st->sink);
    for (i = 0; i < st->nroots; i++)
        Py_CLEAR(st->root_objs[i]);
    if (st->gc_list) {
        /* Empty it first so its references go before it does. */
        (void)PyList_SetSlice(st->gc_list, 0, PyList_GET_SIZE(st->gc_list), NULL);
        Py_CLEAR(st->gc_list);
    }
    Py_CLEAR(st->argv_bytes);
    PyMem_RawFree((void *)st->argv);
    PyMem_RawFree(st);
}

static const char *python_version(char *buf, size_t cap)
{
    const char *v = Py_GetVersion();
    size_t n = strcspn(v, " ");

    if (n >= cap)
        n = cap - 1;
    memcpy(buf, v, n);
    buf[n] = '\0';
    return buf;
}

static PyObject *do_dump(PyObject *out, int mode, PyObject *start, int is_pending,
                         int recurse_depth, size_t value_limit, int include_values,
                         int gzip_level, const char *entry)
{
    dump_state *st = PyMem_RawCalloc(1, sizeof(dump_state));
    mel_writer_options opts;
    mel_dump_header h;
    struct timespec now;
    char version[32];
    int rc = MEL_OK;
    size_t i;

    if (!st)
        return PyErr_NoMemory();
    if (walker_init(&st->w, 1) < 0)
        goto error;
    if (mode == MODE_GC) {
        /* Tracked objects are all in the gc list: follow only the others,
         * and nothing at all for recurse_depth 0. */
        st->w.follow_tracked = 0;
        st->w.queue = recurse_depth > 0;
    }
    if (mel_size_init() < 0)
        goto error;
    if (PyLong_Check(out)) {
        long fdl = PyLong_AsLong(out);
        int fd = (int)fdl;
        if (fdl == -1 && PyErr_Occurred())
            goto error;
        if (fdl < 0 || fdl > INT_MAX) {
            PyErr_SetString(PyExc_ValueError, "invalid file descriptor");
            goto error;
        }
        if (mel_sink_open_fd(&st->sink, fd, gzip_level) < 0)
            goto error;
    } else if (mel_sink_open_pyfile(&st->sink, out) < 0) {
        goto error;
    }
    st->sink_open = 1;
    memset(&opts, 0, sizeof opts);
    opts.value_limit = value_limit;
    opts.omit_values = !include_values;
    if (mel_writer_new(NULL, mel_sink_write, &st->sink, &opts, &st->wr) != MEL_OK) {
        PyErr_NoMemory();
        goto error;
    }
    if (collect_argv(st) < 0)
        goto error;
    if (mode == MODE_ALL || mode == MODE_GC) {
        if (mode == MODE_ALL && collect_roots(st) < 0)
            goto error;
        st->gc_list = get_gc_objects();
        if (!st->gc_list)
            goto error;
        /* The list exists only for this dump: leave it out. */
        if (mel_seen_add(st->w.seen, (uintptr_t)st->gc_list) < 0) {
            PyErr_NoMemory();
            goto error;
        }
    }

    memset(&h, 0, sizeof h);
    h.python_version = python_version(version, sizeof version);
    h.implementation = "CPython";
    h.pointer_size = (int)sizeof(void *);
    h.gc_head_size = (int)MEL_GC_HEAD_SIZE;
    h.pid = (int64_t)getpid();
    clock_gettime(CLOCK_REALTIME, &now);
    h.time = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
    h.argv = st->argv;
    h.argc = st->argc;
    h.entry_point = entry;
    h.roots = st->roots;
    h.nroots = st->nroots;
    rc = mel_writer_header(st->wr, &h);
    if (rc != MEL_OK)
        goto failed;

    if (mode == MODE_REFERENCED) {
        if (is_pending && PyList_Check(start)) {
            /* The list is the initial stack and is not itself written. */
            Py_ssize_t k, n = PyList_GET_SIZE(start);
            if (mel_seen_add(st->w.seen, (uintptr_t)start) < 0) {
                rc = MEL_ENOMEM;
                goto failed;
            }
            for (k = 0; k < n; k++) {
                if (mark_and_push(&st->w, PyList_GET_ITEM(start, k)) < 0) {
                    rc = MEL_ENOMEM;
                    goto failed;
                }
            }
        } else if (mark_and_push(&st->w, start) < 0) {
            rc = MEL_ENOMEM;
            goto failed;
        }
        st->w.queue_types = 0; /* classic: only what the object references */
        rc = drain(&st->w, st->wr);
        if (rc != MEL_OK)
            goto failed;
    } else {
        Py_ssize_t k;
        for (i = 0; i < st->nroots; i++) {
            if (mark_and_push(&st->w, st->root_objs[i]) < 0) {
                rc = MEL_ENOMEM;
                goto failed;
            }
            rc = drain(&st->w, st->wr);
            if (rc != MEL_OK)
                goto failed;
        }
        /* Classic order: from the end of the list. */
        for (k = PyList_GET_SIZE(st->gc_list) - 1; k >= 0; k--) {
            PyObject *op;
            if (k >= PyList_GET_SIZE(st->gc_list))
                continue;
            op = PyList_GET_ITEM(st->gc_list, k);
            if (mark_and_push(&st->w, op) < 0) {
                rc = MEL_ENOMEM;
                goto failed;
            }
            rc = drain(&st->w, st->wr);
            if (rc != MEL_OK)
                goto failed;
        }
    }
    rc = mel_writer_trailer(st->wr);
    if (rc != MEL_OK)
        goto failed;
    {
        int e = mel_sink_finish(&st->sink);
        if (e) {
            if (mel_sink_close(&st->sink)) {
                st->sink_open = 0;
                goto error;
            }
            st->sink_open = 0;
            errno = e;
            PyErr_SetFromErrno(PyExc_OSError);
            goto error;
        }
    }
    {
        unsigned long long count = (unsigned long long)mel_writer_count(st->wr);
        if (mel_sink_close(&st->sink)) {
            st->sink_open = 0;
            goto error;
        }
        st->sink_open = 0;
        dump_state_fini(st);
        return PyLong_FromUnsignedLongLong(count);
    }

failed:
    /* After a non-I/O failure the dump is still well formed: say it is
     * incomplete.  After an I/O failure nothing more can be written. */
    if (rc != MEL_EIO && st->wr) {
        mel_writer_mark_incomplete(st->wr);
        (void)mel_writer_trailer(st->wr);
        (void)mel_sink_finish(&st->sink);
    }
    raise_for(st, rc);
error:
    dump_state_fini(st);
    return NULL;
}

/* ======================================================================
 * Python entry points
 * ==================================================================== */

static int parse_limit(PyObject *obj, size_t *out)
{
    if (obj == NULL || obj == Py_None) {
        *out = obj ? SIZE_MAX : 100;
        return 0;
    }
    {
        Py_ssize_t v = PyLong_AsSsize_t(obj);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (v <= 0) {
            PyErr_SetString(PyExc_ValueError, "value_limit must be positive or None");
            return -1;
        }
        *out = (size_t)v;
    }
    return 0;
}

PyDoc_STRVAR(dump_doc,
"dump(out, mode, obj=None, *, is_pending=False, recurse_depth=1, value_limit=100,\n"
"     include_values=True, gzip_level=0, entry=None) -> int\n\n"
"Write a dump to out (a file descriptor int, or an object with write()).\n"
"mode is 'all', 'referenced' (obj and what it reaches) or 'gc'.\n"
"Returns the number of object lines written.  Raises OSError on a write\n"
"error (the dump then has no trailer).");

static PyObject *scanner_dump(PyObject *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"out", "mode", "obj", "is_pending", "recurse_depth",
                             "value_limit", "include_values", "gzip_level", "entry", NULL};
    PyObject *out, *obj = Py_None, *limit_obj = NULL;
    const char *mode_s, *entry = NULL;
    int is_pending = 0, include_values = 1, gzip_level = 0, recurse_depth = 1, mode;
    size_t limit;

    (void)self;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "Os|O$piOpiz", kwlist, &out, &mode_s, &obj,
                                     &is_pending, &recurse_depth, &limit_obj, &include_values, &gzip_level,
                                     &entry))
        return NULL;
    if (parse_limit(limit_obj, &limit) < 0)
        return NULL;
    if (strcmp(mode_s, "all") == 0)
        mode = MODE_ALL;
    else if (strcmp(mode_s, "referenced") == 0)
        mode = MODE_REFERENCED;
    else if (strcmp(mode_s, "gc") == 0)
        mode = MODE_GC;
    else {
        PyErr_Format(PyExc_ValueError, "unknown dump mode %R", PyTuple_GET_ITEM(args, 1));
        return NULL;
    }
    if (!entry)
        entry = mode == MODE_ALL ? "dump_all_objects"
                : mode == MODE_GC ? "dump_gc_objects" : "dump_all_referenced";
    return do_dump(out, mode, obj, is_pending, recurse_depth, limit, include_values, gzip_level,
                   entry);
}

PyDoc_STRVAR(size_of_doc,
"size_of(obj) -> int\n\nBytes obj occupies, without following references\n"
"(docs/format.md, Sizes).  Never calls a Python-level __sizeof__.");

static PyObject *scanner_size_of(PyObject *self, PyObject *obj)
{
    (void)self;
    if (mel_size_init() < 0)
        return NULL;
    return PyLong_FromSsize_t(mel_size_of(obj));
}

PyDoc_STRVAR(get_referents_doc,
"get_referents(obj) -> list\n\nThe objects a dump lists in obj's refs, in\n"
"the same order: tp_traverse's referents plus dict keys, managed attribute\n"
"names, code fields, type names and executing frames' locals.");

static PyObject *scanner_get_referents(PyObject *self, PyObject *obj)
{
    walker w;
    size_t kv, i;
    PyObject *lst = NULL;

    (void)self;
    if (walker_init(&w, 0) < 0)
        return NULL;
    if (collect_refs(&w, obj, &kv) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    lst = PyList_New((Py_ssize_t)w.nrefs);
    if (!lst)
        goto done;
    for (i = 0; i < w.nrefs; i++) {
        PyObject *r = (PyObject *)(uintptr_t)w.refs[i];
        Py_INCREF(r);
        PyList_SET_ITEM(lst, (Py_ssize_t)i, r);
    }
done:
    walker_fini(&w);
    return lst;
}

/* The shared walk of get_recursive_size and get_recursive_items. */
static PyObject *recursive(PyObject *obj, int want_items)
{
    walker w;
    PyObject *items = NULL, *result = NULL;
    unsigned long long count = 0, total = 0;

    if (walker_init(&w, 1) < 0)
        return NULL;
    w.queue_types = 0;
    if (mel_size_init() < 0)
        goto done;
    if (want_items && !(items = PyList_New(0)))
        goto done;
    if (mark_and_push(&w, obj) < 0) {
        PyErr_NoMemory();
        goto done;
    }
    while (w.nstack > 0) {
        PyObject *op = w.stack[--w.nstack];
        size_t kv;
        int bad = collect_refs(&w, op, &kv) < 0;
        if (!bad) {
            count++;
            if (items) {
                bad = PyList_Append(items, op) < 0;
            } else {
                total += (unsigned long long)mel_size_of(op);
            }
        } else {
            PyErr_NoMemory();
        }
        Py_DECREF(op);
        if (bad)
            goto done;
    }
    if (items) {
        result = items;
        items = NULL;
    } else {
        result = Py_BuildValue("(KK)", count, total);
    }
done:
    Py_XDECREF(items);
    walker_fini(&w);
    return result;
}

PyDoc_STRVAR(get_recursive_size_doc,
"get_recursive_size(obj) -> (count, total_bytes)\n\nCount and total size of the\n"
"distinct objects reachable from obj (obj included).");

static PyObject *scanner_get_recursive_size(PyObject *self, PyObject *obj)
{
    (void)self;
    return recursive(obj, 0);
}

PyDoc_STRVAR(get_recursive_items_doc,
"get_recursive_items(obj) -> list\n\nThe distinct objects reachable from obj\n"
"(obj first), in walk order.");

static PyObject *scanner_get_recursive_items(PyObject *self, PyObject *obj)
{
    (void)self;
    return recursive(obj, 1);
}

PyDoc_STRVAR(add_special_size_doc,
"add_special_size(type_name, fn)\n\nUse fn(obj) -> int as the size (without\n"
"GC header) of objects whose type's tp_name is type_name.  fn=None removes\n"
"it.  A callback that raises or returns a negative number means 'unknown':\n"
"its exception is discarded and the normal size is used.");

static PyObject *scanner_add_special_size(PyObject *self, PyObject *args)
{
    const char *name;
    PyObject *fn;

    (void)self;
    if (!PyArg_ParseTuple(args, "sO", &name, &fn))
        return NULL;
    if (fn != Py_None && !PyCallable_Check(fn)) {
        PyErr_SetString(PyExc_TypeError, "the size function must be callable or None");
        return NULL;
    }
    if (mel_size_add_special(name, fn) < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef scanner_methods[] = {
    {"dump", (PyCFunction)(void (*)(void))scanner_dump, METH_VARARGS | METH_KEYWORDS, dump_doc},
    {"size_of", scanner_size_of, METH_O, size_of_doc},
    {"get_referents", scanner_get_referents, METH_O, get_referents_doc},
    {"get_recursive_size", scanner_get_recursive_size, METH_O, get_recursive_size_doc},
    {"get_recursive_items", scanner_get_recursive_items, METH_O, get_recursive_items_doc},
    {"add_special_size", scanner_add_special_size, METH_VARARGS, add_special_size_doc},
    {NULL, NULL, 0, NULL}};

static int scanner_exec(PyObject *m)
{
    if (!str_module) {
        str_module = PyUnicode_InternFromString("__module__");
        if (!str_module)
            return -1;
    }
    if (PyModule_AddIntConstant(m, "_word_size", (long)sizeof(Py_ssize_t)) < 0 ||
        PyModule_AddIntConstant(m, "_gc_head_size", (long)MEL_GC_HEAD_SIZE) < 0)
        return -1;
    return 0;
}

static PyModuleDef_Slot scanner_slots[] = {
    {Py_mod_exec, (void *)scanner_exec},
    MEL_MOD_GIL_SLOT
    {0, NULL}};

static struct PyModuleDef scanner_module = {
    PyModuleDef_HEAD_INIT, "meliae._scanner",
    "Heap walker: writes the live heap as a meliae dump (docs/format.md).", 0,
    scanner_methods, scanner_slots, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__scanner(void)
{
    return PyModuleDef_Init(&scanner_module);
}
