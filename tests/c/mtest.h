/* mtest.h - a tiny assertion header for the plain-C engine tests.
 * Each tests/c/test_*.c is its own executable: MT_TEST defines a test,
 * MT_RUN runs it from main(), MT_END returns the exit status. */
#ifndef MTEST_H
#define MTEST_H
#include <stdio.h>
#include <string.h>

static int mt_failures;
static int mt_checks;

#define MT_CHECK(cond)                                                              \
    do {                                                                            \
        mt_checks++;                                                                \
        if (!(cond)) {                                                              \
            mt_failures++;                                                          \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                           \
    } while (0)

#define MT_EQ_INT(a, b)                                                             \
    do {                                                                            \
        long long mt_a_ = (long long)(a), mt_b_ = (long long)(b);                   \
        mt_checks++;                                                                \
        if (mt_a_ != mt_b_) {                                                       \
            mt_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__,    \
                    __LINE__, #a, #b, mt_a_, mt_b_);                                \
        }                                                                           \
    } while (0)

#define MT_EQ_STR(a, b)                                                             \
    do {                                                                            \
        const char *mt_a_ = (a), *mt_b_ = (b);                                      \
        mt_checks++;                                                                \
        if (strcmp(mt_a_, mt_b_) != 0) {                                            \
            mt_failures++;                                                          \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  got:  %s\n  want: %s\n",   \
                    __FILE__, __LINE__, #a, #b, mt_a_, mt_b_);                      \
        }                                                                           \
    } while (0)

#define MT_RUN(fn)                                                                  \
    do {                                                                            \
        int mt_before_ = mt_failures;                                               \
        fn();                                                                       \
        fprintf(stderr, "%-48s %s\n", #fn, mt_failures == mt_before_ ? "ok" : "FAIL"); \
    } while (0)

#define MT_END()                                                                    \
    (fprintf(stderr, "%d checks, %d failures\n", mt_checks, mt_failures), mt_failures != 0)

#endif
