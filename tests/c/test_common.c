/* test_common.c - status strings and the failing allocator. */
#include "mel_internal.h"
#include "mtest.h"

static void test_strerror(void)
{
    MT_EQ_STR(mel_strerror(MEL_OK), "success");
    MT_EQ_STR(mel_strerror(MEL_ENOMEM), "out of memory");
    MT_EQ_STR(mel_strerror(12345), "unknown error");
}

static void test_failing_allocator(void)
{
    mel_failing_allocator fa;
    void *p, *q;

    mel_failing_allocator_init(&fa, 2);
    p = mel__malloc(&fa.base, 10);
    MT_CHECK(p != NULL);
    q = mel__malloc(&fa.base, 10);
    MT_CHECK(q == NULL);
    MT_EQ_INT(fa.live, 1);
    mel__free(&fa.base, p, 10);
    MT_EQ_INT(fa.live, 0);
    MT_EQ_INT(fa.count, 2);
}

static void test_mul_overflow(void)
{
    int ok = 1;
    MT_EQ_INT(mel__mul(4, 8, &ok), 32);
    MT_CHECK(ok);
    (void)mel__mul(SIZE_MAX / 2, 4, &ok);
    MT_CHECK(!ok);
}

int main(void)
{
    MT_RUN(test_strerror);
    MT_RUN(test_failing_allocator);
    MT_RUN(test_mul_overflow);
    return MT_END();
}
