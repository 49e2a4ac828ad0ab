/*
 * _engine.c - the Python binding of libmeliae.
 *
 * A thin layer: each entry point converts its arguments, calls one libmeliae
 * function and converts the result.  The algorithms live in the engine; the
 * classic API (meliae.loader) and the command line are written in Python on
 * top of this module.
 *
 * Types (heap types, created per module with PyType_FromModuleAndSpec):
 *   Graph   - owns one mel_graph; objects are addressed by dense index.
 *   Loader  - owns one mel_loader: feed() byte chunks, finish() -> Graph.
 * Module state holds both types and the DumpError exception.
 *
 * Errors: raise_status() is the one place MEL_E* codes become Python
 * exceptions.  Long engine calls release the GIL; the progress callback takes
 * it back every progress_every lines to run the Python callback and to check
 * for signals (a pending KeyboardInterrupt cancels the engine call).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <string.h>

#include "meliae.h"

/* ---------------------------------------------------------------------- */
/* Module state                                                            */
/* ---------------------------------------------------------------------- */

typedef struct {
    PyObject *graph_type;  /* owned: the Graph heap type */
    PyObject *loader_type; /* owned: the Loader heap type */
    PyObject *dump_error;  /* owned: meliae.loader.DumpError (ValueError subclass) */
} engine_state;

static engine_state *get_state(PyObject *module)
{
    return (engine_state *)PyModule_GetState(module);
}

static engine_state *state_of_type(PyTypeObject *tp)
{
    return (engine_state *)PyType_GetModuleState(tp);
}

/* ---------------------------------------------------------------------- */
/* Errors                                                                  */
/* ---------------------------------------------------------------------- */

/* Raises the DumpError for a located engine error.  Its str() is
 * "SOURCE:LINE:COLUMN: message[: detail]".  Returns NULL. */
static PyObject *raise_dump_error(engine_state *st, int code, const mel_error *err,
                                  const char *source)
{
    PyObject *text = NULL, *exc = NULL, *val = NULL;
    const char *msg = (err && err->msg) ? err->msg : mel_strerror(code);
    const char *detail = (err && err->detail[0]) ? err->detail : NULL;
    const char *src = source ? source : "<input>";
    unsigned long long line = err ? (unsigned long long)err->line : 0;
    unsigned long long col = err ? (unsigned long long)err->column : 0;

    if (line && col)
        text = PyUnicode_FromFormat("%s:%llu:%llu: %s%s%s", src, line, col, msg,
                                    detail ? ": " : "", detail ? detail : "");
    else if (line)
        text = PyUnicode_FromFormat("%s:%llu: %s%s%s", src, line, msg, detail ? ": " : "",
                                    detail ? detail : "");
    else
        text = PyUnicode_FromFormat("%s: %s%s%s", src, msg, detail ? ": " : "",
                                    detail ? detail : "");
    if (!text)
        goto done;
    exc = PyObject_CallOneArg(st->dump_error, text);
    if (!exc)
        goto done;
#define SET_ATTR(name, expr)                                   \
    do {                                                       \
        val = (expr);                                          \
        if (!val || PyObject_SetAttrString(exc, name, val) < 0) \
            goto done;                                         \
        Py_CLEAR(val);                                         \
    } while (0)
    SET_ATTR("filename", PyUnicode_DecodeFSDefault(src));
    SET_ATTR("line", PyLong_FromUnsignedLongLong(line));
    SET_ATTR("column", PyLong_FromUnsignedLongLong(col));
    SET_ATTR("code", PyLong_FromLong(code));
    SET_ATTR("reason", PyUnicode_FromFormat("%s%s%s", msg, detail ? ": " : "",
                                            detail ? detail : ""));
#undef SET_ATTR
    PyErr_SetObject(st->dump_error, exc);
done:
    Py_XDECREF(val);
    Py_XDECREF(exc);
    Py_XDECREF(text);
    return NULL;
}

/* Maps a MEL_E* status to a Python exception and returns NULL.  If a Python
 * exception is already set (a progress callback raised, or a signal handler
 * did), that exception wins. */
static PyObject *raise_status(engine_state *st, int code, const mel_error *err,
                              const char *source)
{
    const char *detail = (err && err->detail[0]) ? err->detail : NULL;

    if (PyErr_Occurred())
        return NULL;
    switch (code) {
    case MEL_ENOMEM:
        return PyErr_NoMemory();
    case MEL_EIO:
        if (err && err->sys_errno) {
            errno = err->sys_errno;
            if (source && strcmp(source, "-") != 0)
                return PyErr_SetFromErrnoWithFilename(PyExc_OSError, source);
            return PyErr_SetFromErrno(PyExc_OSError);
        }
        PyErr_Format(PyExc_OSError, "%s%s%s", mel_strerror(code), detail ? ": " : "",
                     detail ? detail : "");
        return NULL;
    case MEL_ECANCELED:
        PyErr_SetNone(PyExc_KeyboardInterrupt);
        return NULL;
    case MEL_EINVAL:
        PyErr_Format(PyExc_ValueError, "%s%s%s", mel_strerror(code), detail ? ": " : "",
                     detail ? detail : "");
        return NULL;
    case MEL_ENOTFOUND:
        PyErr_SetString(PyExc_KeyError, detail ? detail : mel_strerror(code));
        return NULL;
    case MEL_EUNSUPPORTED:
        if (!err) {
            PyErr_Format(PyExc_NotImplementedError, "%s", mel_strerror(code));
            return NULL;
        }
        return raise_dump_error(st, code, err, source);
    default:
        if (!err) {
            /* Not a load: no location to report. */
            PyErr_Format(PyExc_RuntimeError, "libmeliae: %s%s%s", mel_strerror(code),
                         detail ? ": " : "", detail ? detail : "");
            return NULL;
        }
        return raise_dump_error(st, code, err, source);
    }
}

/* ---------------------------------------------------------------------- */
/* Progress                                                                */
/* ---------------------------------------------------------------------- */

/* State shared between a GIL-releasing engine call and progress_cb. */
typedef struct {
    PyObject *callback;     /* borrowed; None or NULL = no callback */
    PyThreadState *tstate;  /* saved thread state while the GIL is released, else NULL */
} progress_ctx;

/* Engine progress callback: takes the GIL back, checks signals, calls the
 * Python callback as callback(phase, lines, objects, bytes_read, bytes_total).
 * Returns nonzero (cancel) when either raised; the exception stays set. */
static int progress_cb(void *ctx, const mel_progress *p)
{
    progress_ctx *pc = ctx;
    int stop = 0;
    PyObject *r;

    if (pc->tstate)
        PyEval_RestoreThread(pc->tstate);
    if (PyErr_CheckSignals() < 0) {
        stop = 1;
    } else if (pc->callback && pc->callback != Py_None) {
        r = PyObject_CallFunction(pc->callback, "sKKKK", p->phase ? p->phase : "",
                                  (unsigned long long)p->lines, (unsigned long long)p->objects,
                                  (unsigned long long)p->bytes_read,
                                  (unsigned long long)p->bytes_total);
        if (!r)
            stop = 1;
        Py_XDECREF(r);
    }
    if (pc->tstate)
        pc->tstate = PyEval_SaveThread();
    return stop;
}

/* ---------------------------------------------------------------------- */
/* Graph                                                                   */
/* ---------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    mel_graph *g; /* owned; NULL only while being constructed */
    int busy;     /* an engine call runs without the GIL: refuse others */
} GraphObject;

static PyObject *graph_wrap(engine_state *st, mel_graph *g)
{
    GraphObject *self = PyObject_New(GraphObject, (PyTypeObject *)st->graph_type);

    if (!self) {
        mel_graph_free(g);
        return NULL;
    }
    self->g = g;
    self->busy = 0;
    return (PyObject *)self;
}

static void graph_dealloc(GraphObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    mel_graph_free(self->g);
    self->g = NULL;
    PyObject_Free(self);
    Py_DECREF(tp);
}

/* Every method starts here: -1 with RuntimeError while another thread runs
 * an engine call on this graph. */
static int graph_check(GraphObject *self)
{
    if (self->busy) {
        PyErr_SetString(PyExc_RuntimeError, "graph is busy in another thread");
        return -1;
    }
    return 0;
}

/* Raises the exception for a MEL_E* status of an engine call on this graph.
 * Returns NULL. */
static PyObject *graph_error(GraphObject *self, int rc)
{
    return raise_status(state_of_type(Py_TYPE(self)), rc, NULL, NULL);
}

/* Around a long engine call: marks the graph busy and releases the GIL
 * (graph_unlock), then takes the GIL back and clears busy (graph_relock).
 * pc->callback is the progress callback (NULL or None for none). */
static void graph_unlock(GraphObject *self, progress_ctx *pc)
{
    self->busy = 1;
    pc->tstate = PyEval_SaveThread();
}

static void graph_relock(GraphObject *self, progress_ctx *pc)
{
    PyEval_RestoreThread(pc->tstate);
    pc->tstate = NULL;
    self->busy = 0;
}

/* Converts an index argument; accepts records and missing nodes.
 * Returns 0, or -1 with IndexError/TypeError set. */
static int index_arg(GraphObject *self, PyObject *arg, uint32_t *out)
{
    unsigned long long v;
    uint64_t n;

    if (graph_check(self) < 0)
        return -1;
    v = PyLong_AsUnsignedLongLong(arg);
    if (v == (unsigned long long)-1 && PyErr_Occurred()) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear(); /* a negative or huge index is simply out of range */
            PyErr_SetString(PyExc_IndexError, "object index out of range");
        }
        return -1;
    }
    n = (uint64_t)mel_graph_count(self->g) + mel_graph_missing(self->g);
    if (v >= n) {
        PyErr_SetString(PyExc_IndexError, "object index out of range");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

/* Converts a type id argument.  Returns 0, or -1 with OverflowError (a
 * negative number), IndexError (no such type) or TypeError set. */
static int type_arg(GraphObject *self, PyObject *arg, uint32_t *out)
{
    unsigned long t;

    if (graph_check(self) < 0)
        return -1;
    t = PyLong_AsUnsignedLong(arg);
    if (t == (unsigned long)-1 && PyErr_Occurred())
        return -1;
    if (t >= mel_graph_type_count(self->g)) {
        PyErr_SetString(PyExc_IndexError, "type id out of range");
        return -1;
    }
    *out = (uint32_t)t;
    return 0;
}

/* Converts an iterable of indexes into a PyMem-allocated array; None gives
 * NULL and 0.  Returns 0 (caller frees *out with PyMem_Free) or -1 with an
 * exception. */
static int index_array(GraphObject *self, PyObject *seq, uint32_t **out, size_t *n)
{
    PyObject *fast = NULL;
    Py_ssize_t i, len;
    int rc = -1;

    *out = NULL;
    *n = 0;
    if (seq == Py_None)
        return 0;
    fast = PySequence_Fast(seq, "expected an iterable of object indexes");
    if (!fast)
        goto done;
    len = PySequence_Fast_GET_SIZE(fast);
    *out = PyMem_New(uint32_t, len ? (size_t)len : 1);
    if (!*out) {
        PyErr_NoMemory();
        goto done;
    }
    for (i = 0; i < len; i++) {
        if (index_arg(self, PySequence_Fast_GET_ITEM(fast, i), &(*out)[i]) < 0)
            goto done;
    }
    *n = (size_t)len;
    rc = 0;
done:
    if (rc < 0) {
        PyMem_Free(*out);
        *out = NULL;
    }
    Py_XDECREF(fast);
    return rc;
}

/* A list of n integers, item k being value(ctx, k). */
typedef unsigned long long (*list_value_fn)(const void *ctx, size_t k);

static PyObject *int_list(list_value_fn value, const void *ctx, size_t n)
{
    PyObject *list = PyList_New((Py_ssize_t)n);
    size_t k;

    if (!list)
        return NULL;
    for (k = 0; k < n; k++) {
        PyObject *v = PyLong_FromUnsignedLongLong(value(ctx, k));
        if (!v) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, (Py_ssize_t)k, v);
    }
    return list;
}

static unsigned long long index_at(const void *ctx, size_t k)
{
    return ((const uint32_t *)ctx)[k];
}

static unsigned long long u64_at(const void *ctx, size_t k)
{
    return ((const uint64_t *)ctx)[k];
}

typedef struct {
    const mel_graph *g;
    const uint32_t *idx;
} address_ctx;

static unsigned long long address_at(const void *ctx, size_t k)
{
    const address_ctx *a = ctx;

    return mel_graph_address(a->g, a->idx[k]);
}

static PyObject *index_list(const uint32_t *idx, size_t n)
{
    return int_list(index_at, idx, n);
}

static PyObject *address_list(const mel_graph *g, const uint32_t *idx, size_t n)
{
    address_ctx a = {g, idx};

    return int_list(address_at, &a, n);
}

static PyObject *decode_text(const char *s, size_t len)
{
    return PyUnicode_DecodeUTF8(s ? s : "", (Py_ssize_t)len, "surrogatepass");
}

static PyObject *optional_index(uint32_t i)
{
    if (i == MEL_NONE)
        Py_RETURN_NONE;
    return PyLong_FromUnsignedLong(i);
}

static PyObject *type_name_text(const mel_graph *g, uint32_t type_id)
{
    size_t len = 0;
    const char *s = mel_graph_type_name(g, type_id, &len);

    return decode_text(s, len);
}

/* --- counts ------------------------------------------------------------ */

/* Defines method NAME(): CONVERT(ENGINE_FN(g)) for an engine getter of the
 * whole graph. */
#define GRAPH_GETTER(NAME, CONVERT, ENGINE_FN)                                \
    static PyObject *NAME(GraphObject *self, PyObject *Py_UNUSED(ignored)) \
    {                                                                     \
        if (graph_check(self) < 0)                                        \
            return NULL;                                                  \
        return CONVERT(ENGINE_FN(self->g));                               \
    }

GRAPH_GETTER(graph_count, PyLong_FromUnsignedLong, mel_graph_count)
GRAPH_GETTER(graph_missing, PyLong_FromUnsignedLong, mel_graph_missing)
GRAPH_GETTER(graph_live, PyLong_FromUnsignedLong, mel_graph_live)
GRAPH_GETTER(graph_memory, PyLong_FromSize_t, mel_graph_memory)
GRAPH_GETTER(graph_has_parents, PyBool_FromLong, mel_graph_has_parents)
GRAPH_GETTER(graph_has_dominators, PyBool_FromLong, mel_graph_has_dominators)
GRAPH_GETTER(graph_type_count, PyLong_FromUnsignedLong, mel_graph_type_count)
GRAPH_GETTER(graph_retained_total, PyLong_FromUnsignedLongLong, mel_graph_retained_total)

/* --- per-object accessors ---------------------------------------------- */

/* Defines method NAME(i): CONVERT(ENGINE_FN(g, i)) for an engine getter of
 * node i. */
#define NODE_GETTER(NAME, CONVERT, ENGINE_FN)                  \
    static PyObject *NAME(GraphObject *self, PyObject *arg) \
    {                                                      \
        uint32_t i;                                        \
                                                           \
        if (index_arg(self, arg, &i) < 0)                  \
            return NULL;                                   \
        return CONVERT(ENGINE_FN(self->g, i));             \
    }

NODE_GETTER(graph_address, PyLong_FromUnsignedLongLong, mel_graph_address)
NODE_GETTER(graph_type_id, PyLong_FromUnsignedLong, mel_graph_type)
NODE_GETTER(graph_size, PyLong_FromUnsignedLongLong, mel_graph_size)
NODE_GETTER(graph_flags, PyLong_FromUnsignedLong, mel_graph_flags)
NODE_GETTER(graph_kv_pairs, PyLong_FromUnsignedLong, mel_graph_kv_pairs)

static PyObject *graph_lookup(GraphObject *self, PyObject *arg)
{
    unsigned long long a;

    if (graph_check(self) < 0)
        return NULL;
    a = PyLong_AsUnsignedLongLong(arg);
    if (a == (unsigned long long)-1 && PyErr_Occurred()) {
        if (!PyErr_ExceptionMatches(PyExc_OverflowError))
            return NULL;
        PyErr_Clear(); /* negative or beyond 64 bits: no object has that address */
        Py_RETURN_NONE;
    }
    return optional_index(mel_graph_lookup(self->g, (uint64_t)a));
}

static PyObject *graph_type_name_of(GraphObject *self, PyObject *arg)
{
    uint32_t t;

    if (type_arg(self, arg, &t) < 0)
        return NULL;
    return type_name_text(self->g, t);
}

static PyObject *graph_type_name(GraphObject *self, PyObject *arg)
{
    uint32_t i;

    if (index_arg(self, arg, &i) < 0)
        return NULL;
    return type_name_text(self->g, mel_graph_type(self->g, i));
}

/* The engine's UTF-8 (WTF-8 for lone surrogates) of a str argument, as a
 * new bytes object, or NULL with an exception. */
static PyObject *text_arg(GraphObject *self, PyObject *arg)
{
    if (graph_check(self) < 0)
        return NULL;
    if (!PyUnicode_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "expected a str, not %.100s", Py_TYPE(arg)->tp_name);
        return NULL;
    }
    return PyUnicode_AsEncodedString(arg, "utf-8", "surrogatepass");
}

static PyObject *graph_type_intern(GraphObject *self, PyObject *arg)
{
    PyObject *b = text_arg(self, arg);
    uint32_t t;

    if (!b)
        return NULL;
    t = mel_graph_type_intern(self->g, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    if (t == MEL_NONE)
        return PyErr_NoMemory();
    return PyLong_FromUnsignedLong(t);
}

/* type_find(name) -> type id of that display name, or None. */
static PyObject *graph_type_find(GraphObject *self, PyObject *arg)
{
    PyObject *b = text_arg(self, arg);
    uint32_t t;

    if (!b)
        return NULL;
    t = mel_graph_type_find(self->g, PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b));
    Py_DECREF(b);
    return optional_index(t);
}

static PyObject *graph_length(GraphObject *self, PyObject *arg)
{
    uint32_t i;
    int64_t n;

    if (index_arg(self, arg, &i) < 0)
        return NULL;
    n = mel_graph_len(self->g, i);
    if (n < 0)
        Py_RETURN_NONE;
    return PyLong_FromLongLong(n);
}

/* The value of node i, or -1 with an exception. */
static int value_arg(GraphObject *self, PyObject *arg, mel_value *v)
{
    uint32_t i;

    if (index_arg(self, arg, &i) < 0)
        return -1;
    memset(v, 0, sizeof *v);
    mel_graph_value(self->g, i, v);
    return 0;
}

/* value(i) -> None | str | int | bool.  Text is the engine's UTF-8 (WTF-8
 * for lone surrogates), decoded with surrogatepass. */
static PyObject *graph_value(GraphObject *self, PyObject *arg)
{
    mel_value v;

    if (value_arg(self, arg, &v) < 0)
        return NULL;
    switch (v.kind) {
    case MEL_VALUE_TEXT:
        return decode_text(v.text, v.text_len);
    case MEL_VALUE_INT:
        return PyLong_FromLongLong(v.i);
    case MEL_VALUE_BOOL:
        return PyBool_FromLong(v.i != 0);
    default:
        Py_RETURN_NONE;
    }
}

/* value_is_name(i) -> bool: the value came from the "name" key. */
static PyObject *graph_value_is_name(GraphObject *self, PyObject *arg)
{
    mel_value v;

    if (value_arg(self, arg, &v) < 0)
        return NULL;
    return PyBool_FromLong(v.kind != MEL_VALUE_NONE && v.is_name);
}

/* --- edges ------------------------------------------------------------- */

typedef const uint32_t *(*edges_fn)(const mel_graph *g, uint32_t i, uint32_t *n);

enum edge_form { EDGES_AS_INDEXES, EDGES_AS_ADDRESSES, EDGES_COUNT };

/* The children or parents (edges) of node arg: as indexes, as addresses or
 * their number (form). */
static PyObject *edge_query(GraphObject *self, PyObject *arg, edges_fn edges,
                            enum edge_form form)
{
    uint32_t i, n = 0;
    const uint32_t *e;

    if (index_arg(self, arg, &i) < 0)
        return NULL;
    e = edges(self->g, i, &n);
    switch (form) {
    case EDGES_AS_INDEXES:
        return index_list(e, n);
    case EDGES_AS_ADDRESSES:
        return address_list(self->g, e, n);
    default:
        return PyLong_FromUnsignedLong(n);
    }
}

static PyObject *graph_children(GraphObject *self, PyObject *arg)
{
    return edge_query(self, arg, mel_graph_children, EDGES_AS_INDEXES);
}

static PyObject *graph_child_addresses(GraphObject *self, PyObject *arg)
{
    return edge_query(self, arg, mel_graph_children, EDGES_AS_ADDRESSES);
}

static PyObject *graph_num_children(GraphObject *self, PyObject *arg)
{
    return edge_query(self, arg, mel_graph_children, EDGES_COUNT);
}

static PyObject *graph_parents(GraphObject *self, PyObject *arg)
{
    return edge_query(self, arg, mel_graph_parents, EDGES_AS_INDEXES);
}

static PyObject *graph_parent_addresses(GraphObject *self, PyObject *arg)
{
    return edge_query(self, arg, mel_graph_parents, EDGES_AS_ADDRESSES);
}

static PyObject *graph_num_parents(GraphObject *self, PyObject *arg)
{
    return edge_query(self, arg, mel_graph_parents, EDGES_COUNT);
}

/* roots() -> list of (kind, name, index or None). */
static PyObject *graph_roots(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    size_t k, n;
    PyObject *list, *item;

    if (graph_check(self) < 0)
        return NULL;
    n = mel_graph_root_count(self->g);
    list = PyList_New(0);
    if (!list)
        return NULL;
    for (k = 0; k < n; k++) {
        const char *kind = NULL, *name = NULL;
        uint32_t node = MEL_NONE;

        if (mel_graph_root(self->g, k, &kind, &name, &node) != MEL_OK)
            continue;
        item = Py_BuildValue("(zzN)", kind, name, optional_index(node));
        if (!item || PyList_Append(list, item) < 0) {
            Py_XDECREF(item);
            Py_DECREF(list);
            return NULL;
        }
        Py_DECREF(item);
    }
    return list;
}

/* --- mutation ---------------------------------------------------------- */

/* Parses (index, value) for the setters: format is "OO:name".  Returns 0,
 * or -1 with an exception. */
static int node_and_arg(GraphObject *self, PyObject *args, const char *format, uint32_t *i,
                        PyObject **value)
{
    PyObject *idx;

    if (!PyArg_ParseTuple(args, format, &idx, value))
        return -1;
    return index_arg(self, idx, i);
}

static PyObject *graph_set_size(GraphObject *self, PyObject *args)
{
    PyObject *size_o;
    unsigned long long size;
    uint32_t i;

    if (node_and_arg(self, args, "OO:set_size", &i, &size_o) < 0)
        return NULL;
    size = PyLong_AsUnsignedLongLong(size_o);
    if (size == (unsigned long long)-1 && PyErr_Occurred())
        return NULL;
    mel_graph_set_size(self->g, i, (uint64_t)size);
    Py_RETURN_NONE;
}

static PyObject *graph_set_type(GraphObject *self, PyObject *args)
{
    PyObject *type_o;
    uint32_t i, t;

    if (node_and_arg(self, args, "OO:set_type", &i, &type_o) < 0 ||
        type_arg(self, type_o, &t) < 0)
        return NULL;
    mel_graph_set_type(self->g, i, t);
    Py_RETURN_NONE;
}

static PyObject *graph_set_children(GraphObject *self, PyObject *args)
{
    PyObject *seq, *res = NULL;
    uint32_t i, *arr = NULL;
    size_t n = 0;
    int rc;

    if (node_and_arg(self, args, "OO:set_children", &i, &seq) < 0)
        return NULL;
    if (index_array(self, seq, &arr, &n) < 0)
        return NULL;
    if (n > UINT32_MAX) {
        PyErr_SetString(PyExc_OverflowError, "too many children");
        goto done;
    }
    rc = mel_graph_set_children(self->g, i, arr, (uint32_t)n);
    if (rc != MEL_OK) {
        graph_error(self, rc);
        goto done;
    }
    res = Py_NewRef(Py_None);
done:
    PyMem_Free(arr);
    return res;
}

/* set_value(i, v): v is None (clears), a str or an int fitting in 64 bits. */
static PyObject *graph_set_value(GraphObject *self, PyObject *args)
{
    PyObject *v;
    uint32_t i;
    int rc = MEL_OK;

    if (node_and_arg(self, args, "OO:set_value", &i, &v) < 0)
        return NULL;
    if (v == Py_None) {
        mel_graph_clear_value(self->g, i);
    } else if (PyUnicode_Check(v)) {
        PyObject *b = PyUnicode_AsEncodedString(v, "utf-8", "surrogatepass");
        if (!b)
            return NULL;
        rc = mel_graph_set_value_text(self->g, i, PyBytes_AS_STRING(b),
                                      (size_t)PyBytes_GET_SIZE(b));
        Py_DECREF(b);
    } else if (PyLong_Check(v) && !PyBool_Check(v)) {
        long long x = PyLong_AsLongLong(v);
        if (x == -1 && PyErr_Occurred())
            return NULL;
        rc = mel_graph_set_value_int(self->g, i, (int64_t)x);
    } else {
        PyErr_Format(PyExc_TypeError, "value must be None, str or int, not %.100s",
                     Py_TYPE(v)->tp_name);
        return NULL;
    }
    if (rc != MEL_OK)
        return graph_error(self, rc);
    Py_RETURN_NONE;
}

/* add(address, type_id, size) -> index of the new record. */
static PyObject *graph_add(GraphObject *self, PyObject *args)
{
    unsigned long long address, size;
    PyObject *type_o;
    uint32_t t, out = MEL_NONE;
    int rc;

    if (!PyArg_ParseTuple(args, "KOK:add", &address, &type_o, &size))
        return NULL;
    if (type_arg(self, type_o, &t) < 0)
        return NULL;
    rc = mel_graph_add(self->g, (uint64_t)address, t, (uint64_t)size, &out);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    return PyLong_FromUnsignedLong(out);
}

static PyObject *graph_delete(GraphObject *self, PyObject *arg)
{
    uint32_t i;
    int rc;

    if (index_arg(self, arg, &i) < 0)
        return NULL;
    rc = mel_graph_delete(self->g, i);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    Py_RETURN_NONE;
}

/* --- whole-graph passes (GIL released) --------------------------------- */

static PyObject *graph_compute_parents(GraphObject *self, PyObject *arg)
{
    progress_ctx pc = {NULL, NULL};
    long long maxp;
    int rc;

    if (graph_check(self) < 0)
        return NULL;
    maxp = PyLong_AsLongLong(arg);
    if (maxp == -1 && PyErr_Occurred())
        return NULL;
    graph_unlock(self, &pc);
    rc = mel_graph_compute_parents(self->g, (int64_t)maxp);
    graph_relock(self, &pc);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    Py_RETURN_NONE;
}

static PyObject *graph_collapse_instance_dicts(GraphObject *self, PyObject *callback)
{
    progress_ctx pc = {callback, NULL};
    uint64_t n = 0;
    int rc;

    if (graph_check(self) < 0)
        return NULL;
    graph_unlock(self, &pc);
    rc = mel_collapse_instance_dicts(self->g, &n, progress_cb, &pc);
    graph_relock(self, &pc);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    return PyLong_FromUnsignedLongLong(n);
}

static PyObject *graph_compute_dominators(GraphObject *self, PyObject *callback)
{
    progress_ctx pc = {callback, NULL};
    int rc;

    if (graph_check(self) < 0)
        return NULL;
    graph_unlock(self, &pc);
    rc = mel_compute_dominators(self->g, progress_cb, &pc);
    graph_relock(self, &pc);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    Py_RETURN_NONE;
}

/* Node argument of a method that reads dominators: -1 with an exception if
 * they are not computed. */
static int dominated_arg(GraphObject *self, PyObject *arg, uint32_t *i)
{
    if (index_arg(self, arg, i) < 0)
        return -1;
    if (!mel_graph_has_dominators(self->g)) {
        PyErr_SetString(PyExc_RuntimeError, "dominators are not computed");
        return -1;
    }
    return 0;
}

/* idom(i) -> index of the immediate dominator, None for the super-root. */
static PyObject *graph_idom(GraphObject *self, PyObject *arg)
{
    uint32_t i;

    if (dominated_arg(self, arg, &i) < 0)
        return NULL;
    return optional_index(mel_graph_idom(self->g, i));
}

static PyObject *graph_retained(GraphObject *self, PyObject *arg)
{
    uint32_t i;

    if (dominated_arg(self, arg, &i) < 0)
        return NULL;
    return PyLong_FromUnsignedLongLong(mel_graph_retained(self->g, i));
}

/* summarize(start, excluded) -> (total_count, total_size, rows); start None
 * covers every live record; rows are (type_name, type_id, count, total_size,
 * sq_sum, max_size, max_index, retained). */
static PyObject *graph_summarize(GraphObject *self, PyObject *args)
{
    PyObject *start_o, *excl_o, *rows = NULL, *res = NULL;
    uint32_t *start = NULL, *excl = NULL;
    size_t nstart = 0, nexcl = 0, k;
    mel_summary *s = NULL;
    int rc;

    if (!PyArg_ParseTuple(args, "OO:summarize", &start_o, &excl_o))
        return NULL;
    if (index_array(self, start_o, &start, &nstart) < 0)
        goto done;
    if (index_array(self, excl_o, &excl, &nexcl) < 0)
        goto done;
    /* index_array always allocates for a sequence, so an empty start list
     * stays non-NULL and summarizes nothing. */
    rc = mel_summarize(self->g, start_o == Py_None ? NULL : start, nstart, excl, nexcl, &s);
    if (rc != MEL_OK) {
        graph_error(self, rc);
        goto done;
    }
    rows = PyList_New((Py_ssize_t)s->ntypes);
    if (!rows)
        goto done;
    for (k = 0; k < s->ntypes; k++) {
        const mel_type_summary *t = &s->types[k];
        PyObject *row = Py_BuildValue(
            "(NkKKdKkK)", type_name_text(self->g, t->type_id), (unsigned long)t->type_id,
            (unsigned long long)t->count, (unsigned long long)t->total_size, t->sq_sum,
            (unsigned long long)t->max_size, (unsigned long)t->max_index,
            (unsigned long long)t->retained);

        if (!row)
            goto done;
        PyList_SET_ITEM(rows, (Py_ssize_t)k, row);
    }
    res = Py_BuildValue("(KKO)", (unsigned long long)s->total_count,
                        (unsigned long long)s->total_size, rows);
done:
    Py_XDECREF(rows);
    mel_summary_free(s);
    PyMem_Free(start);
    PyMem_Free(excl);
    return res;
}

/* Parses (start, excluded) for reach() and total_size().  Returns 0 (the
 * caller frees *excl with PyMem_Free) or -1 with an exception. */
static int start_and_excluded(GraphObject *self, PyObject *args, const char *format,
                              uint32_t *start, uint32_t **excl, size_t *nexcl)
{
    PyObject *start_o, *excl_o;

    *excl = NULL;
    *nexcl = 0;
    if (!PyArg_ParseTuple(args, format, &start_o, &excl_o))
        return -1;
    if (index_arg(self, start_o, start) < 0)
        return -1;
    return index_array(self, excl_o, excl, nexcl);
}

/* reach(start, excluded) -> list of indexes in the classic walk order. */
static PyObject *graph_reach(GraphObject *self, PyObject *args)
{
    PyObject *res = NULL;
    uint32_t start, *excl = NULL, *out = NULL;
    size_t nexcl = 0, n = 0;
    int rc;

    if (start_and_excluded(self, args, "OO:reach", &start, &excl, &nexcl) < 0)
        return NULL;
    rc = mel_reach(self->g, start, excl, nexcl, &out, &n);
    if (rc != MEL_OK)
        graph_error(self, rc);
    else
        res = index_list(out, n);
    mel_free(out);
    PyMem_Free(excl);
    return res;
}

static PyObject *graph_total_size(GraphObject *self, PyObject *args)
{
    uint32_t start, *excl = NULL;
    size_t nexcl = 0;
    uint64_t total = 0;
    int rc;

    if (start_and_excluded(self, args, "OO:total_size", &start, &excl, &nexcl) < 0)
        return NULL;
    rc = mel_total_size(self->g, start, excl, nexcl, &total);
    PyMem_Free(excl);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    return PyLong_FromUnsignedLongLong(total);
}

/* Converts the malloc'd index array of a successful engine call into a
 * list and frees it; on failure raises for rc.  The one exit of the
 * list-returning methods below. */
static PyObject *engine_index_list(GraphObject *self, int rc, uint32_t *out, size_t n)
{
    PyObject *res = rc == MEL_OK ? index_list(out, n) : graph_error(self, rc);

    mel_free(out);
    return res;
}

/* all_of_type(type_id, within) -> live records of that type, largest first
 * (size, then children, then parents; ties in file order); within None
 * means every record, else only those indexes. */
static PyObject *graph_all_of_type(GraphObject *self, PyObject *args)
{
    PyObject *type_o, *within_o, *res;
    uint32_t t, *within = NULL, *out = NULL;
    size_t nwithin = 0, n = 0;
    int rc;

    if (!PyArg_ParseTuple(args, "OO:all_of_type", &type_o, &within_o))
        return NULL;
    if (type_arg(self, type_o, &t) < 0 || index_array(self, within_o, &within, &nwithin) < 0)
        return NULL;
    rc = mel_graph_all_of_type(self->g, t, within_o == Py_None ? NULL : within, nwithin, &out,
                               &n);
    res = engine_index_list(self, rc, out, n);
    PyMem_Free(within);
    return res;
}

/* top(n, by) -> the n largest live records, by "size" or "retained"
 * (dominators must be computed), ties in file order. */
static PyObject *graph_top(GraphObject *self, PyObject *args)
{
    progress_ctx pc = {NULL, NULL};
    Py_ssize_t n;
    const char *by;
    int key, rc;
    uint32_t *out = NULL;
    size_t nout = 0;

    if (!PyArg_ParseTuple(args, "ns:top", &n, &by))
        return NULL;
    if (graph_check(self) < 0)
        return NULL;
    if (strcmp(by, "size") == 0) {
        key = MEL_TOP_SIZE;
    } else if (strcmp(by, "retained") == 0) {
        key = MEL_TOP_RETAINED;
        if (!mel_graph_has_dominators(self->g)) {
            PyErr_SetString(PyExc_RuntimeError, "dominators are not computed");
            return NULL;
        }
    } else {
        PyErr_Format(PyExc_ValueError, "by must be 'retained' or 'size', not '%s'", by);
        return NULL;
    }
    graph_unlock(self, &pc);
    rc = mel_top(self->g, key, n > 0 ? (size_t)n : 0, &out, &nout);
    graph_relock(self, &pc);
    return engine_index_list(self, rc, out, nout);
}

/* guess_intern_dict() -> index of the dict that looks like the interned
 * strings, or None. */
static PyObject *graph_guess_intern_dict(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    progress_ctx pc = {NULL, NULL};
    uint32_t d = MEL_NONE;
    int rc;

    if (graph_check(self) < 0)
        return NULL;
    graph_unlock(self, &pc);
    rc = mel_guess_intern_dict(self->g, &d);
    graph_relock(self, &pc);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    return optional_index(d);
}

/* remove_expensive_references() -> number of records rewritten. */
static PyObject *graph_remove_expensive_references(GraphObject *self,
                                                   PyObject *Py_UNUSED(ignored))
{
    progress_ctx pc = {NULL, NULL};
    uint64_t changed = 0;
    int rc;

    if (graph_check(self) < 0)
        return NULL;
    graph_unlock(self, &pc);
    rc = mel_remove_expensive_references(self->g, NULL, &changed);
    graph_relock(self, &pc);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    return PyLong_FromUnsignedLongLong(changed);
}

/* path_to(i) -> list of indexes from a root to i, or None if unreachable. */
static PyObject *graph_path_to(GraphObject *self, PyObject *arg)
{
    progress_ctx pc = {NULL, NULL};
    uint32_t i, *out = NULL;
    size_t n = 0;
    int rc;

    if (index_arg(self, arg, &i) < 0)
        return NULL;
    graph_unlock(self, &pc);
    rc = mel_path_to(self->g, i, &out, &n);
    graph_relock(self, &pc);
    if (rc == MEL_ENOTFOUND)
        Py_RETURN_NONE;
    return engine_index_list(self, rc, out, n);
}

static PyObject *graph_edge_label(GraphObject *self, PyObject *args)
{
    PyObject *po, *co, *res;
    uint32_t p, c;
    char small[128], *buf = small;
    size_t need;

    if (!PyArg_ParseTuple(args, "OO:edge_label", &po, &co))
        return NULL;
    if (index_arg(self, po, &p) < 0 || index_arg(self, co, &c) < 0)
        return NULL;
    need = mel_edge_label(self->g, p, c, small, sizeof small);
    if (need >= sizeof small) {
        buf = PyMem_Malloc(need + 1);
        if (!buf)
            return PyErr_NoMemory();
        (void)mel_edge_label(self->g, p, c, buf, need + 1);
    }
    res = decode_text(buf, strlen(buf));
    if (buf != small)
        PyMem_Free(buf);
    return res;
}

/* retained_by_type() -> list indexed by type id: retained bytes of the
 * objects of that type no other object of that type dominates. */
static PyObject *graph_retained_by_type(GraphObject *self, PyObject *Py_UNUSED(ignored))
{
    uint64_t *per = NULL;
    size_t n = 0;
    PyObject *list;
    int rc;

    if (graph_check(self) < 0)
        return NULL;
    rc = mel_retained_by_type(self->g, &per, &n);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    list = int_list(u64_at, per, n);
    mel_free(per);
    return list;
}

/* path_format(indexes) -> text such as sys.modules['app'].__dict__['cache']. */
static PyObject *graph_path_format(GraphObject *self, PyObject *seq)
{
    uint32_t *arr = NULL;
    size_t n = 0;
    char *text = NULL;
    PyObject *res = NULL;
    int rc;

    if (index_array(self, seq, &arr, &n) < 0)
        return NULL;
    rc = mel_path_format(self->g, arr, n, &text);
    if (rc != MEL_OK)
        graph_error(self, rc);
    else
        res = decode_text(text, strlen(text));
    mel_free(text);
    PyMem_Free(arr);
    return res;
}

/* suspects(min_fraction, max_items) -> (total, items); each item is a dict
 * with kind ("object"/"group"), node (index or None for the super-root),
 * type, count, retained, fraction, example, path (indexes), path_text. */
static PyObject *graph_suspects(GraphObject *self, PyObject *args)
{
    progress_ctx pc = {NULL, NULL};
    double frac;
    Py_ssize_t max_items;
    mel_suspect_report *r = NULL;
    PyObject *items = NULL, *res = NULL;
    size_t k;
    int rc;

    if (!PyArg_ParseTuple(args, "dn:suspects", &frac, &max_items))
        return NULL;
    if (graph_check(self) < 0)
        return NULL;
    if (max_items < 0) {
        PyErr_SetString(PyExc_ValueError, "max_items must be >= 0");
        return NULL;
    }
    graph_unlock(self, &pc);
    rc = mel_suspects(self->g, frac, (size_t)max_items, &r);
    graph_relock(self, &pc);
    if (rc != MEL_OK)
        return graph_error(self, rc);
    items = PyList_New((Py_ssize_t)r->n);
    if (!items)
        goto done;
    for (k = 0; k < r->n; k++) {
        const mel_suspect *s = &r->items[k];
        PyObject *item = Py_BuildValue(
            "{s:s,s:N,s:N,s:K,s:K,s:d,s:N,s:N,s:N}", "kind",
            s->kind == MEL_SUSPECT_GROUP ? "group" : "object", "node", optional_index(s->node),
            "type", type_name_text(self->g, s->type_id), "count", (unsigned long long)s->count,
            "retained", (unsigned long long)s->retained, "fraction", s->fraction, "example",
            optional_index(s->example), "path", index_list(s->path, s->path_len), "path_text",
            decode_text(s->path_text, s->path_text ? strlen(s->path_text) : 0));
        if (!item)
            goto done;
        PyList_SET_ITEM(items, (Py_ssize_t)k, item);
    }
    res = Py_BuildValue("(KO)", (unsigned long long)r->total, items);
done:
    Py_XDECREF(items);
    mel_suspect_report_free(r);
    return res;
}

static PyMethodDef graph_methods[] = {
    {"count", (PyCFunction)graph_count, METH_NOARGS, "Number of records (deleted ones too)."},
    {"missing", (PyCFunction)graph_missing, METH_NOARGS, "Number of dangling-address nodes."},
    {"live", (PyCFunction)graph_live, METH_NOARGS, "Number of records not deleted."},
    {"memory", (PyCFunction)graph_memory, METH_NOARGS, "Approximate bytes held by the graph."},
    {"has_parents", (PyCFunction)graph_has_parents, METH_NOARGS, "True once parents are computed."},
    {"has_dominators", (PyCFunction)graph_has_dominators, METH_NOARGS,
     "True once dominators are computed."},
    {"type_count", (PyCFunction)graph_type_count, METH_NOARGS, "Number of distinct type ids."},
    {"lookup", (PyCFunction)graph_lookup, METH_O, "lookup(address) -> index or None."},
    {"address", (PyCFunction)graph_address, METH_O, "address(i) -> address of node i."},
    {"type_id", (PyCFunction)graph_type_id, METH_O, "type_id(i) -> type id of node i."},
    {"type_name", (PyCFunction)graph_type_name, METH_O, "type_name(i) -> type name of node i."},
    {"type_name_of", (PyCFunction)graph_type_name_of, METH_O, "type_name_of(type_id) -> name."},
    {"type_intern", (PyCFunction)graph_type_intern, METH_O, "type_intern(name) -> type id."},
    {"type_find", (PyCFunction)graph_type_find, METH_O,
     "type_find(name) -> type id of that type name, or None."},
    {"size", (PyCFunction)graph_size, METH_O, "size(i) -> bytes."},
    {"length", (PyCFunction)graph_length, METH_O, "length(i) -> the dump's len, or None."},
    {"flags", (PyCFunction)graph_flags, METH_O, "flags(i) -> MEL_NODE_* bits."},
    {"kv_pairs", (PyCFunction)graph_kv_pairs, METH_O, "kv_pairs(i) -> leading key/value pairs."},
    {"value", (PyCFunction)graph_value, METH_O, "value(i) -> None, str, int or bool."},
    {"value_is_name", (PyCFunction)graph_value_is_name, METH_O,
     "value_is_name(i) -> True if the value came from the name key."},
    {"children", (PyCFunction)graph_children, METH_O, "children(i) -> list of indexes."},
    {"child_addresses", (PyCFunction)graph_child_addresses, METH_O,
     "child_addresses(i) -> list of addresses."},
    {"num_children", (PyCFunction)graph_num_children, METH_O, "num_children(i) -> int."},
    {"parents", (PyCFunction)graph_parents, METH_O, "parents(i) -> list of indexes."},
    {"parent_addresses", (PyCFunction)graph_parent_addresses, METH_O,
     "parent_addresses(i) -> list of addresses."},
    {"num_parents", (PyCFunction)graph_num_parents, METH_O, "num_parents(i) -> int."},
    {"all_of_type", (PyCFunction)graph_all_of_type, METH_VARARGS,
     "all_of_type(type_id, within) -> live records of that type, largest first."},
    {"roots", (PyCFunction)graph_roots, METH_NOARGS,
     "roots() -> list of (kind, name, index or None) from the header."},
    {"set_size", (PyCFunction)graph_set_size, METH_VARARGS, "set_size(i, size)."},
    {"set_type", (PyCFunction)graph_set_type, METH_VARARGS, "set_type(i, type_id)."},
    {"set_children", (PyCFunction)graph_set_children, METH_VARARGS,
     "set_children(i, indexes)."},
    {"set_value", (PyCFunction)graph_set_value, METH_VARARGS,
     "set_value(i, value): None, str or int."},
    {"add", (PyCFunction)graph_add, METH_VARARGS, "add(address, type_id, size) -> index."},
    {"delete", (PyCFunction)graph_delete, METH_O, "delete(i): flag record i as deleted."},
    {"compute_parents", (PyCFunction)graph_compute_parents, METH_O,
     "compute_parents(max_parents): < 0 unlimited, 0 none."},
    {"collapse_instance_dicts", (PyCFunction)graph_collapse_instance_dicts, METH_O,
     "collapse_instance_dicts(progress) -> number of dicts folded."},
    {"compute_dominators", (PyCFunction)graph_compute_dominators, METH_O,
     "compute_dominators(progress)."},
    {"idom", (PyCFunction)graph_idom, METH_O, "idom(i) -> index, or None for the super-root."},
    {"retained", (PyCFunction)graph_retained, METH_O, "retained(i) -> retained bytes."},
    {"summarize", (PyCFunction)graph_summarize, METH_VARARGS,
     "summarize(start, excluded) -> (count, size, rows)."},
    {"reach", (PyCFunction)graph_reach, METH_VARARGS, "reach(start, excluded) -> indexes."},
    {"total_size", (PyCFunction)graph_total_size, METH_VARARGS,
     "total_size(start, excluded) -> bytes."},
    {"top", (PyCFunction)graph_top, METH_VARARGS,
     "top(n, by) -> the n largest live records by 'size' or 'retained'."},
    {"guess_intern_dict", (PyCFunction)graph_guess_intern_dict, METH_NOARGS,
     "guess_intern_dict() -> index of the interned-strings dict, or None."},
    {"remove_expensive_references", (PyCFunction)graph_remove_expensive_references,
     METH_NOARGS,
     "remove_expensive_references() -> number of records whose expensive references were cut."},
    {"path_to", (PyCFunction)graph_path_to, METH_O,
     "path_to(i) -> indexes from a root to i, or None."},
    {"edge_label", (PyCFunction)graph_edge_label, METH_VARARGS,
     "edge_label(parent, child) -> label such as \"['key']\"."},
    {"retained_total", (PyCFunction)graph_retained_total, METH_NOARGS,
     "retained_total() -> bytes of all live objects (the super-root's retained size)."},
    {"retained_by_type", (PyCFunction)graph_retained_by_type, METH_NOARGS,
     "retained_by_type() -> retained bytes per type id, without double counting."},
    {"path_format", (PyCFunction)graph_path_format, METH_O,
     "path_format(indexes) -> the path as text."},
    {"suspects", (PyCFunction)graph_suspects, METH_VARARGS,
     "suspects(min_fraction, max_items) -> (heap total, items)."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot graph_slots[] = {
    {Py_tp_dealloc, graph_dealloc},
    {Py_tp_methods, graph_methods},
    {Py_tp_doc, "An object graph loaded from a meliae dump (one libmeliae mel_graph)."},
    {0, NULL},
};

static PyType_Spec graph_spec = {
    .name = "meliae._engine.Graph",
    .basicsize = sizeof(GraphObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = graph_slots,
};

/* ---------------------------------------------------------------------- */
/* Loading                                                                 */
/* ---------------------------------------------------------------------- */

/* Builds the report dict from a mel_load_report. */
static PyObject *report_dict(const mel_load_report *r)
{
    PyObject *first_bad;

    if (r->bad_lines) {
        const mel_error *e = &r->first_bad;
        first_bad = Py_BuildValue("{s:K,s:K,s:s,s:s,s:i}", "line", (unsigned long long)e->line,
                                  "column", (unsigned long long)e->column, "message",
                                  e->msg ? e->msg : mel_strerror(e->code), "detail", e->detail,
                                  "code", e->code);
        if (!first_bad)
            return NULL;
    } else {
        first_bad = Py_NewRef(Py_None);
    }
    return Py_BuildValue(
        "{s:K,s:K,s:K,s:N,s:K,s:K,s:O,s:O,s:O,s:K,s:O,s:(ii),s:s,s:i}", "lines",
        (unsigned long long)r->lines, "objects", (unsigned long long)r->objects, "bad_lines",
        (unsigned long long)r->bad_lines, "first_bad", first_bad, "duplicates",
        (unsigned long long)r->duplicates, "dangling_refs", (unsigned long long)r->dangling_refs,
        "has_header", r->has_header ? Py_True : Py_False, "has_trailer",
        r->has_trailer ? Py_True : Py_False, "trailer_complete",
        r->trailer_complete ? Py_True : Py_False, "trailer_objects",
        (unsigned long long)r->trailer_objects, "classic", r->classic ? Py_True : Py_False,
        "version", r->format_major, r->format_minor, "python_version", r->python_version,
        "pointer_size", r->pointer_size);
}

static PyObject *graph_and_report(engine_state *st, mel_graph *g, const mel_load_report *r)
{
    PyObject *graph = graph_wrap(st, g), *rep;

    if (!graph)
        return NULL;
    rep = report_dict(r);
    if (!rep) {
        Py_DECREF(graph);
        return NULL;
    }
    return Py_BuildValue("(NN)", graph, rep);
}

/* Fills opts for a load reporting progress through pc. */
static void load_options(mel_load_options *opts, int strict, progress_ctx *pc,
                         unsigned long long every, const char *source_name)
{
    memset(opts, 0, sizeof *opts);
    opts->strict = strict;
    opts->progress = progress_cb;
    opts->progress_ctx = pc;
    opts->progress_every = (uint64_t)every;
    opts->source_name = source_name;
}

/* load_path(path, strict=False, progress=None, progress_every=0, source_name=None)
 *   -> (Graph, report).  "-" reads stdin.  The GIL is released while parsing. */
static PyObject *engine_load_path(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"path", "strict", "progress", "progress_every", "source_name",
                             NULL};
    engine_state *st = get_state(module);
    PyObject *path_o = NULL, *progress = Py_None, *res = NULL;
    const char *source_name = NULL, *path;
    int strict = 0, rc;
    unsigned long long every = 0;
    mel_load_options opts;
    mel_load_report report;
    mel_error err;
    mel_graph *g = NULL;
    progress_ctx pc = {NULL, NULL};

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O&|pOKz:load_path", kwlist,
                                     PyUnicode_FSConverter, &path_o, &strict, &progress, &every,
                                     &source_name))
        return NULL;
    path = PyBytes_AS_STRING(path_o);
    memset(&report, 0, sizeof report);
    memset(&err, 0, sizeof err);
    pc.callback = progress;
    load_options(&opts, strict, &pc, every, source_name ? source_name : path);
    pc.tstate = PyEval_SaveThread();
    rc = mel_load_path(path, &opts, &g, &report, &err);
    PyEval_RestoreThread(pc.tstate);
    if (rc != MEL_OK) {
        mel_graph_free(g);
        raise_status(st, rc, &err, opts.source_name);
        goto done;
    }
    res = graph_and_report(st, g, &report);
done:
    Py_XDECREF(path_o);
    return res;
}

typedef struct {
    PyObject_HEAD
    mel_loader *l;        /* owned; NULL after finish() or a failure */
    PyObject *progress;   /* owned: callback or None */
    PyObject *source;     /* owned: str naming the input in messages */
    progress_ctx pc;      /* pc.callback borrows progress */
} LoaderObject;

/* Loader(strict=False, progress=None, progress_every=0, source_name="<input>") */
static PyObject *loader_new(PyTypeObject *tp, PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"strict", "progress", "progress_every", "source_name", NULL};
    engine_state *st = state_of_type(tp);
    int strict = 0, rc;
    PyObject *progress = Py_None, *source = NULL;
    unsigned long long every = 0;
    mel_load_options opts;
    LoaderObject *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|pOKU:Loader", kwlist, &strict, &progress,
                                     &every, &source))
        return NULL;
    self = (LoaderObject *)tp->tp_alloc(tp, 0);
    if (!self)
        return NULL;
    self->progress = Py_NewRef(progress);
    self->source = source ? Py_NewRef(source) : PyUnicode_FromString("<input>");
    if (!self->source)
        goto error;
    self->pc.callback = self->progress;
    self->pc.tstate = NULL;
    load_options(&opts, strict, &self->pc, every, PyUnicode_AsUTF8(self->source));
    if (!opts.source_name)
        goto error;
    rc = mel_loader_new(&opts, &self->l);
    if (rc != MEL_OK) {
        raise_status(st, rc, NULL, NULL);
        goto error;
    }
    return (PyObject *)self;
error:
    Py_DECREF(self);
    return NULL;
}

static int loader_traverse(LoaderObject *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->progress);
    Py_VISIT(self->source);
    return 0;
}

static int loader_clear(LoaderObject *self)
{
    Py_CLEAR(self->progress);
    self->pc.callback = NULL;
    return 0;
}

static void loader_dealloc(LoaderObject *self)
{
    PyTypeObject *tp = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    mel_loader_free(self->l);
    self->l = NULL;
    loader_clear(self);
    Py_CLEAR(self->source);
    tp->tp_free(self);
    Py_DECREF(tp);
}

static int loader_check(LoaderObject *self)
{
    if (!self->l) {
        PyErr_SetString(PyExc_ValueError, "loader is finished or failed");
        return -1;
    }
    return 0;
}

/* feed(data): data is any bytes-like object holding the next chunk. */
static PyObject *loader_feed(LoaderObject *self, PyObject *arg)
{
    engine_state *st = state_of_type(Py_TYPE(self));
    Py_buffer view;
    mel_error err;
    int rc;

    if (loader_check(self) < 0)
        return NULL;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    memset(&err, 0, sizeof err);
    rc = mel_loader_feed(self->l, view.buf, (size_t)view.len, &err);
    PyBuffer_Release(&view);
    if (rc != MEL_OK) {
        mel_loader_free(self->l);
        self->l = NULL;
        return raise_status(st, rc, &err, PyUnicode_AsUTF8(self->source));
    }
    Py_RETURN_NONE;
}

/* finish() -> (Graph, report). */
static PyObject *loader_finish(LoaderObject *self, PyObject *Py_UNUSED(ignored))
{
    engine_state *st = state_of_type(Py_TYPE(self));
    mel_load_report report;
    mel_error err;
    mel_graph *g = NULL;
    mel_loader *l;
    int rc;

    if (loader_check(self) < 0)
        return NULL;
    memset(&report, 0, sizeof report);
    memset(&err, 0, sizeof err);
    l = self->l;
    self->l = NULL;
    rc = mel_loader_finish(l, &g, &report, &err);
    mel_loader_free(l);
    if (rc != MEL_OK) {
        mel_graph_free(g);
        return raise_status(st, rc, &err, PyUnicode_AsUTF8(self->source));
    }
    return graph_and_report(st, g, &report);
}

static PyMethodDef loader_methods[] = {
    {"feed", (PyCFunction)loader_feed, METH_O, "feed(data): parse the next chunk of the dump."},
    {"finish", (PyCFunction)loader_finish, METH_NOARGS,
     "finish() -> (Graph, report): end of input, build the graph."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot loader_slots[] = {
    {Py_tp_new, loader_new},
    {Py_tp_dealloc, loader_dealloc},
    {Py_tp_traverse, loader_traverse},
    {Py_tp_clear, loader_clear},
    {Py_tp_methods, loader_methods},
    {Py_tp_doc, "Loader(strict=False, progress=None, progress_every=0, source_name='<input>')\n"
                "Incremental dump loader: feed() chunks of the byte stream, then finish()."},
    {0, NULL},
};

static PyType_Spec loader_spec = {
    .name = "meliae._engine.Loader",
    .basicsize = sizeof(LoaderObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = loader_slots,
};

/* ---------------------------------------------------------------------- */
/* Module                                                                  */
/* ---------------------------------------------------------------------- */

/* diff(old, new) -> dict with the totals, "types" (list of dicts, biggest
 * growers first) and "added" (indexes in new, largest first). */
static PyObject *engine_diff(PyObject *module, PyObject *args)
{
    engine_state *st = get_state(module);
    PyObject *old_o, *new_o, *types = NULL, *res = NULL;
    GraphObject *og, *ng;
    mel_diff_report *r = NULL;
    size_t k;
    int rc;

    if (!PyArg_ParseTuple(args, "O!O!:diff", (PyTypeObject *)st->graph_type, &old_o,
                          (PyTypeObject *)st->graph_type, &new_o))
        return NULL;
    og = (GraphObject *)old_o;
    ng = (GraphObject *)new_o;
    if (graph_check(og) < 0 || graph_check(ng) < 0)
        return NULL;
    rc = mel_diff(og->g, ng->g, &r);
    if (rc != MEL_OK)
        return raise_status(st, rc, NULL, NULL);
    types = PyList_New((Py_ssize_t)r->ntypes);
    if (!types)
        goto done;
    for (k = 0; k < r->ntypes; k++) {
        const mel_diff_type *t = &r->types[k];
        PyObject *item = Py_BuildValue(
            "{s:N,s:K,s:K,s:K,s:K,s:L,s:L,s:K,s:K}", "type",
            decode_text(t->name, t->name ? strlen(t->name) : 0), "old_count",
            (unsigned long long)t->old_count, "new_count", (unsigned long long)t->new_count,
            "old_size", (unsigned long long)t->old_size, "new_size",
            (unsigned long long)t->new_size, "count_delta", (long long)t->count_delta,
            "size_delta", (long long)t->size_delta, "added_count",
            (unsigned long long)t->added_count, "added_size", (unsigned long long)t->added_size);
        if (!item)
            goto done;
        PyList_SET_ITEM(types, (Py_ssize_t)k, item);
    }
    res = Py_BuildValue("{s:K,s:K,s:K,s:K,s:K,s:K,s:K,s:O,s:N}", "old_count",
                        (unsigned long long)r->old_count, "new_count",
                        (unsigned long long)r->new_count, "old_size",
                        (unsigned long long)r->old_size, "new_size",
                        (unsigned long long)r->new_size, "kept_count",
                        (unsigned long long)r->kept_count, "gone_count",
                        (unsigned long long)r->gone_count, "gone_size",
                        (unsigned long long)r->gone_size, "types", types, "added",
                        index_list(r->added, r->nadded));
done:
    Py_XDECREF(types);
    mel_diff_report_free(r);
    return res;
}

static PyObject *engine_have_zstd(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    (void)module;
    return PyBool_FromLong(mel_have_zstd());
}

static PyObject *engine_strerror(PyObject *module, PyObject *arg)
{
    long code = PyLong_AsLong(arg);

    (void)module;
    if (code == -1 && PyErr_Occurred())
        return NULL;
    return PyUnicode_FromString(mel_strerror((int)code));
}

static PyMethodDef engine_functions[] = {
    {"load_path", (PyCFunction)(void (*)(void))engine_load_path, METH_VARARGS | METH_KEYWORDS,
     "load_path(path, strict=False, progress=None, progress_every=0, source_name=None)\n"
     "-> (Graph, report).  '-' reads stdin; gzip and zstd are detected."},
    {"diff", engine_diff, METH_VARARGS,
     "diff(old, new) -> dict: what changed between two graphs."},
    {"have_zstd", engine_have_zstd, METH_NOARGS, "True if this build reads .zst dumps."},
    {"strerror", engine_strerror, METH_O, "strerror(code) -> description of a MEL_E* code."},
    {NULL, NULL, 0, NULL},
};

static int engine_exec(PyObject *module)
{
    engine_state *st = get_state(module);

    st->dump_error = PyErr_NewExceptionWithDoc(
        "meliae.loader.DumpError",
        "A dump could not be read.  str() is 'FILE:LINE:COLUMN: message'; the attributes\n"
        "filename, line, column, code (a MEL_E* status) and reason give the parts.",
        PyExc_ValueError, NULL);
    if (!st->dump_error || PyModule_AddObjectRef(module, "DumpError", st->dump_error) < 0)
        return -1;
    st->graph_type = PyType_FromModuleAndSpec(module, &graph_spec, NULL);
    if (!st->graph_type || PyModule_AddObjectRef(module, "Graph", st->graph_type) < 0)
        return -1;
    st->loader_type = PyType_FromModuleAndSpec(module, &loader_spec, NULL);
    if (!st->loader_type || PyModule_AddObjectRef(module, "Loader", st->loader_type) < 0)
        return -1;
#define ADD_INT(name, v)                              \
    if (PyModule_AddIntConstant(module, name, v) < 0) \
        return -1;
    ADD_INT("NODE_STATIC", MEL_NODE_STATIC)
    ADD_INT("NODE_DELETED", MEL_NODE_DELETED)
    ADD_INT("NODE_MISSING", MEL_NODE_MISSING)
    ADD_INT("NODE_ROOT", MEL_NODE_ROOT)
    ADD_INT("FORMAT_MAJOR", MEL_FORMAT_MAJOR)
    ADD_INT("FORMAT_MINOR", MEL_FORMAT_MINOR)
#undef ADD_INT
    return 0;
}

static int engine_traverse(PyObject *module, visitproc visit, void *arg)
{
    engine_state *st = get_state(module);

    Py_VISIT(st->graph_type);
    Py_VISIT(st->loader_type);
    Py_VISIT(st->dump_error);
    return 0;
}

static int engine_clear(PyObject *module)
{
    engine_state *st = get_state(module);

    Py_CLEAR(st->graph_type);
    Py_CLEAR(st->loader_type);
    Py_CLEAR(st->dump_error);
    return 0;
}

static void engine_free(void *module)
{
    engine_clear((PyObject *)module);
}

static PyModuleDef_Slot engine_slots[] = {
    {Py_mod_exec, engine_exec},
    {0, NULL},
};

static struct PyModuleDef engine_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "meliae._engine",
    .m_doc = "Binding of libmeliae: load dumps into graphs and run the engine's analyses.",
    .m_size = sizeof(engine_state),
    .m_methods = engine_functions,
    .m_slots = engine_slots,
    .m_traverse = engine_traverse,
    .m_clear = engine_clear,
    .m_free = engine_free,
};

PyMODINIT_FUNC PyInit__engine(void)
{
    return PyModuleDef_Init(&engine_module);
}
