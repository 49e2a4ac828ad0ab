/*
 * _scanner_sink.c - where the dump writer's bytes go.
 *
 * Three sinks: a file descriptor written with a write(2) loop (retrying on
 * EINTR), a gzip stream (zlib) over a duplicate of a descriptor, and any
 * Python object with a write() method.  The last one creates one bytes
 * object per writer buffer (256 KiB), never one per dumped object, and runs
 * Python code; a Python exception it raises is kept and re-raised after the
 * walk has unwound.
 */
#include "_scanner.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

int mel_sink_open_fd(mel_sink *s, int fd, int gzip_level)
{
    memset(s, 0, sizeof *s);
    s->fd = fd;
    if (gzip_level <= 0) {
        s->kind = MEL_SINK_FD;
        return 0;
    }
    {
        int dup_fd = dup(fd);
        char mode[4] = {'w', 'b', '6', '\0'};

        if (dup_fd < 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        if (gzip_level > 9)
            gzip_level = 9;
        mode[2] = (char)('0' + gzip_level);
        s->gz = gzdopen(dup_fd, mode);
        if (!s->gz) {
            close(dup_fd);
            PyErr_NoMemory();
            return -1;
        }
        s->kind = MEL_SINK_GZIP;
    }
    return 0;
}

int mel_sink_open_pyfile(mel_sink *s, PyObject *file)
{
    memset(s, 0, sizeof *s);
    s->kind = MEL_SINK_PYFILE;
    s->fd = -1;
    s->write = PyObject_GetAttrString(file, "write");
    if (!s->write)
        return -1;
    if (!PyCallable_Check(s->write)) {
        Py_CLEAR(s->write);
        PyErr_SetString(PyExc_TypeError, "the output's write attribute is not callable");
        return -1;
    }
    return 0;
}

static int write_fd(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return errno ? errno : EIO;
        }
        if (n == 0)
            return EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_gz(gzFile gz, const char *p, size_t len)
{
    while (len > 0) {
        unsigned chunk = len > (1u << 30) ? (1u << 30) : (unsigned)len;
        int n = gzwrite(gz, p, chunk);
        if (n <= 0) {
            int zerr = 0;
            (void)gzerror(gz, &zerr);
            if (zerr == Z_ERRNO && errno)
                return errno;
            return zerr == Z_MEM_ERROR ? ENOMEM : EIO;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static int write_py(mel_sink *s, const char *p, size_t len)
{
    PyObject *chunk, *res;

    if (s->exc_type || s->exc_value)
        return EIO;
    chunk = PyBytes_FromStringAndSize(p, (Py_ssize_t)len);
    if (!chunk)
        goto error;
    res = PyObject_CallOneArg(s->write, chunk);
    Py_DECREF(chunk);
    if (!res)
        goto error;
    Py_DECREF(res);
    return 0;

error:
    /* Kept and re-raised after the walk: the walk cannot run with an
     * exception set. */
    PyErr_Fetch(&s->exc_type, &s->exc_value, &s->exc_tb);
    if (s->exc_value && PyObject_IsInstance(s->exc_value, PyExc_OSError) == 1) {
        PyObject *eno = PyObject_GetAttrString(s->exc_value, "errno");
        int e = EIO;
        if (eno && PyLong_Check(eno))
            e = (int)PyLong_AsLong(eno);
        Py_XDECREF(eno);
        PyErr_Clear(); /* from the errno lookup only; the real one is kept */
        return e > 0 ? e : EIO;
    }
    PyErr_Clear();
    return EIO;
}

int mel_sink_write(void *ctx, const void *buf, size_t len)
{
    mel_sink *s = ctx;

    switch (s->kind) {
    case MEL_SINK_FD:
        return write_fd(s->fd, buf, len);
    case MEL_SINK_GZIP:
        return write_gz(s->gz, buf, len);
    default:
        return write_py(s, buf, len);
    }
}

int mel_sink_finish(mel_sink *s)
{
    int rc = 0;

    if (s->kind == MEL_SINK_GZIP && s->gz) {
        int z;
        errno = 0;
        z = gzclose(s->gz);
        s->gz = NULL;
        if (z != Z_OK)
            rc = (z == Z_ERRNO && errno) ? errno : EIO;
    }
    if (s->kind == MEL_SINK_PYFILE && s->write && !s->exc_value && !s->exc_type) {
        /* Some file objects buffer; flush if they can (optional method). */
        PyObject *self = PyObject_GetAttrString(s->write, "__self__");
        if (self) {
            PyObject *res = PyObject_CallMethod(self, "flush", NULL);
            if (res) {
                Py_DECREF(res);
            } else if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
                PyErr_Clear(); /* no flush(): nothing to do */
            } else {
                PyErr_Fetch(&s->exc_type, &s->exc_value, &s->exc_tb);
                rc = EIO;
            }
            Py_DECREF(self);
        } else {
            PyErr_Clear(); /* a plain function as write: nothing to flush */
        }
    }
    return rc;
}

int mel_sink_close(mel_sink *s)
{
    int restored = 0;

    if (s->gz) {
        gzclose(s->gz);
        s->gz = NULL;
    }
    Py_CLEAR(s->write);
    if (s->exc_type || s->exc_value) {
        if (!PyErr_Occurred()) {
            PyErr_Restore(s->exc_type, s->exc_value, s->exc_tb);
            restored = 1;
        } else {
            Py_XDECREF(s->exc_type);
            Py_XDECREF(s->exc_value);
            Py_XDECREF(s->exc_tb);
        }
        s->exc_type = s->exc_value = s->exc_tb = NULL;
    }
    return restored;
}
