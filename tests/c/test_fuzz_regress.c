/*
 * test_fuzz_regress.c - replays the fuzz regression files and seed corpora.
 *
 * Every file of tests/fuzz/regress/ (inputs that once crashed or broke an
 * invariant, minimised) and of tests/fuzz/seeds/<target>/ goes through both fuzz
 * targets, linked here without libFuzzer.  A target aborts on a broken
 * invariant, and the sanitizers of `make check-c` catch the rest, so this
 * test fails exactly when a fixed bug comes back.
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_targets.h"
#include "mtest.h"

#include <dirent.h>
#include <stdlib.h>
#include <sys/stat.h>

#ifndef MEL_FUZZ_DIR
#define MEL_FUZZ_DIR "tests/fuzz"
#endif

/* Reads a whole file; returns a malloc'd buffer or NULL. */
static uint8_t *read_all(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL, *nb;
    size_t cap = 0, len = 0, got;

    if (!f)
        return NULL;
    do {
        if (len == cap) {
            cap = cap ? cap * 2 : 65536;
            nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
    } while (got > 0);
    fclose(f);
    *n = len;
    return buf;
}

/* Feeds every regular file of dir to both targets; returns how many ran. */
static unsigned replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    unsigned count = 0;

    MT_CHECK(d != NULL);
    if (!d)
        return 0;
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        uint8_t *data;
        size_t n = 0;

        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
            continue;
        data = read_all(path, &n);
        MT_CHECK(data != NULL);
        if (!data)
            continue;
        fprintf(stderr, "  %s\n", path);
        mel_fuzz_reader(data, n);
        mel_fuzz_roundtrip(data, n);
        free(data);
        count++;
    }
    closedir(d);
    return count;
}

static void test_regress(void)
{
    /* The folder is committed with at least one case per fixed bug. */
    MT_CHECK(replay_dir(MEL_FUZZ_DIR "/regress") > 0);
}

static void test_seeds(void)
{
    MT_CHECK(replay_dir(MEL_FUZZ_DIR "/seeds/reader") >= 5);
    MT_CHECK(replay_dir(MEL_FUZZ_DIR "/seeds/roundtrip") >= 1);
}

static void test_empty_and_tiny(void)
{
    static const uint8_t nl[] = "\n";
    static const uint8_t brace[] = "{";
    mel_fuzz_reader(NULL, 0);
    mel_fuzz_roundtrip(NULL, 0);
    mel_fuzz_reader(nl, 1);
    mel_fuzz_reader(brace, 1);
    mel_fuzz_roundtrip(brace, 1);
}

int main(void)
{
    MT_RUN(test_regress);
    MT_RUN(test_seeds);
    MT_RUN(test_empty_and_tiny);
    return MT_END();
}
