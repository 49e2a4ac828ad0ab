/*
 * fuzz_targets.h - the libmeliae fuzz targets, callable without libFuzzer.
 *
 * Each target is one translation unit (fuzz_reader.c, fuzz_roundtrip.c).  It
 * defines a named entry point and, unless MEL_FUZZ_NO_ENTRY is defined, the
 * libFuzzer entry LLVMFuzzerTestOneInput that calls it.  The plain-main
 * replay driver (replay.c) and the C test tests/c/test_fuzz_regress.c call
 * the named entry points directly.
 *
 * A target returns 0.  When it finds an engine result that breaks a
 * documented invariant it calls abort(), which libFuzzer and the replay
 * driver both report as a crash.
 */
#ifndef MEL_FUZZ_TARGETS_H
#define MEL_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* bytes -> loader (several feedings and options) -> graph -> every analysis -> free. */
int mel_fuzz_reader(const uint8_t *data, size_t size);

/* bytes -> object records -> writer -> loader -> graph, compared field by field. */
int mel_fuzz_roundtrip(const uint8_t *data, size_t size);

/* Aborts with a message naming the broken invariant when cond is false. */
#define MEL_FUZZ_CHECK(cond) \
    ((cond) ? (void)0 : mel_fuzz_fail(__FILE__, __LINE__, #cond))

static inline void mel_fuzz_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
    abort();
}

#endif
