/*
 * mel_internal.h - helpers shared by the engine's translation units.
 * Not installed, not part of the API.  Everything here is prefixed mel__.
 */
#ifndef MEL_INTERNAL_H
#define MEL_INTERNAL_H

#include "meliae.h"

#include <stddef.h>
#include <stdint.h>

/* Allocation through an optional mel_allocator (NULL = libc).  All return
 * NULL on failure (or on size overflow for the array forms). */
void *mel__malloc(const mel_allocator *a, size_t n);
void *mel__calloc(const mel_allocator *a, size_t count, size_t size);
void *mel__realloc(const mel_allocator *a, void *p, size_t old_n, size_t new_n);
void mel__free(const mel_allocator *a, void *p, size_t n);
/* Overflow-checked count*size; 0 and sets *ok=0 on overflow. */
size_t mel__mul(size_t count, size_t size, int *ok);

/* Fills err (if non-NULL) with code and a static message; returns code. */
int mel__fail(mel_error *err, int code, const char *detail_fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#if defined(__GNUC__)
#define MEL_LIKELY(x) __builtin_expect(!!(x), 1)
#define MEL_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#define MEL_LIKELY(x) (x)
#define MEL_UNLIKELY(x) (x)
#endif

#endif
