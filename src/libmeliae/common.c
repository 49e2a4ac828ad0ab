/*
 * common.c - status strings, the allocator indirection and the failing
 * allocator used by out-of-memory injection tests.
 */
#include "mel_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *mel_strerror(int code)
{
    switch (code) {
    case MEL_OK: return "success";
    case MEL_ENOMEM: return "out of memory";
    case MEL_EIO: return "input/output error";
    case MEL_ESYNTAX: return "invalid JSON";
    case MEL_EFIELD: return "missing or invalid field";
    case MEL_ERANGE: return "number out of range";
    case MEL_EVERSION: return "unsupported dump format version";
    case MEL_EENCODING: return "invalid text encoding";
    case MEL_ELIMIT: return "line too long";
    case MEL_EEMPTY: return "no objects in input";
    case MEL_ECOMPRESS: return "corrupt or truncated compressed data";
    case MEL_ECANCELED: return "canceled";
    case MEL_EINVAL: return "invalid argument";
    case MEL_ENOTFOUND: return "not found";
    case MEL_EUNSUPPORTED: return "not supported by this build";
    default: return "unknown error";
    }
}

size_t mel__mul(size_t count, size_t size, int *ok)
{
    if (size != 0 && count > SIZE_MAX / size) {
        *ok = 0;
        return 0;
    }
    return count * size;
}

void *mel__malloc(const mel_allocator *a, size_t n)
{
    if (n == 0)
        n = 1;
    return a ? a->malloc(a->ctx, n) : malloc(n);
}

void *mel__calloc(const mel_allocator *a, size_t count, size_t size)
{
    int ok = 1;
    size_t n = mel__mul(count, size, &ok);
    void *p;

    if (!ok)
        return NULL;
    if (!a)
        return calloc(count ? count : 1, size ? size : 1);
    p = mel__malloc(a, n);
    if (p)
        memset(p, 0, n ? n : 1);
    return p;
}

void *mel__realloc(const mel_allocator *a, void *p, size_t old_n, size_t new_n)
{
    if (new_n == 0)
        new_n = 1;
    if (!p)
        return mel__malloc(a, new_n);
    return a ? a->realloc(a->ctx, p, old_n, new_n) : realloc(p, new_n);
}

void mel__free(const mel_allocator *a, void *p, size_t n)
{
    if (!p)
        return;
    if (a)
        a->free(a->ctx, p, n);
    else
        free(p);
}

void mel_free(void *p)
{
    free(p);
}

int mel__fail(mel_error *err, int code, const char *detail_fmt, ...)
{
    if (err) {
        va_list ap;
        err->code = code;
        err->msg = mel_strerror(code);
        err->detail[0] = '\0';
        if (detail_fmt) {
            va_start(ap, detail_fmt);
            vsnprintf(err->detail, sizeof err->detail, detail_fmt, ap);
            va_end(ap);
        }
    }
    return code;
}

/* --- failing allocator: fails the fail_at-th allocation -------------- */

static void *fa_malloc(void *ctx, size_t n)
{
    mel_failing_allocator *fa = ctx;
    void *p;

    fa->count++;
    if (fa->fail_at && fa->count == fa->fail_at)
        return NULL;
    p = malloc(n);
    if (p)
        fa->live++;
    return p;
}

static void *fa_realloc(void *ctx, void *p, size_t old_n, size_t new_n)
{
    mel_failing_allocator *fa = ctx;

    (void)old_n;
    fa->count++;
    if (fa->fail_at && fa->count == fa->fail_at)
        return NULL;
    return realloc(p, new_n);
}

static void fa_free(void *ctx, void *p, size_t n)
{
    mel_failing_allocator *fa = ctx;

    (void)n;
    if (p) {
        fa->live--;
        free(p);
    }
}

void mel_failing_allocator_init(mel_failing_allocator *fa, uint64_t fail_at)
{
    memset(fa, 0, sizeof *fa);
    fa->base.malloc = fa_malloc;
    fa->base.realloc = fa_realloc;
    fa->base.free = fa_free;
    fa->base.ctx = fa;
    fa->fail_at = fail_at;
}
