/*
 * replay.c - runs a fuzz target on files without libFuzzer.
 *
 * Usage: replay-<target> FILE_OR_DIR...  Every regular file named (or found
 * directly inside a named directory) is read whole and handed to the target
 * once.  A crash or a broken invariant aborts with the file's name already
 * printed; otherwise the driver prints how many inputs ran and exits 0.
 * Build with -DMEL_FUZZ_TARGET=mel_fuzz_reader (or mel_fuzz_roundtrip).
 */
#define _POSIX_C_SOURCE 200809L
#include "fuzz_targets.h"

#include <dirent.h>
#include <string.h>
#include <sys/stat.h>

#ifndef MEL_FUZZ_TARGET
#error "define MEL_FUZZ_TARGET to the target's entry point"
#endif

/* Reads path whole into a malloc'd buffer.  0 on success, -1 on error. */
static int replay_read(const char *path, uint8_t **out, size_t *n)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf = NULL;
    size_t cap = 0, len = 0;
    int rc = -1;

    if (!f)
        goto done;
    for (;;) {
        size_t got;
        if (len == cap) {
            uint8_t *nb = realloc(buf, cap ? cap * 2 : 65536);
            if (!nb)
                goto done;
            buf = nb;
            cap = cap ? cap * 2 : 65536;
        }
        got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror(f))
        goto done;
    *out = buf;
    *n = len;
    buf = NULL;
    rc = 0;
done:
    free(buf);
    if (f)
        fclose(f);
    return rc;
}

/* Runs the target on one file.  0 on success, -1 if it cannot be read. */
static int replay_file(const char *path)
{
    uint8_t *data = NULL;
    size_t n = 0;

    if (replay_read(path, &data, &n) != 0) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        return -1;
    }
    fprintf(stderr, "replay: %s (%zu bytes)\n", path, n);
    MEL_FUZZ_TARGET(data, n);
    free(data);
    return 0;
}

int main(int argc, char **argv)
{
    int i, status = 0;
    unsigned long count = 0;

    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "replay: no such file: %s\n", argv[i]);
            status = 1;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            DIR *d = opendir(argv[i]);
            struct dirent *e;
            if (!d) {
                status = 1;
                continue;
            }
            while ((e = readdir(d)) != NULL) {
                char path[4096];
                struct stat fst;
                if (e->d_name[0] == '.')
                    continue;
                snprintf(path, sizeof path, "%s/%s", argv[i], e->d_name);
                if (stat(path, &fst) != 0 || !S_ISREG(fst.st_mode))
                    continue;
                if (replay_file(path) != 0)
                    status = 1;
                else
                    count++;
            }
            closedir(d);
        } else if (replay_file(argv[i]) != 0) {
            status = 1;
        } else {
            count++;
        }
    }
    printf("replayed %lu inputs\n", count);
    return status;
}
