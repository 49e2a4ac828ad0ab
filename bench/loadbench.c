/*
 * loadbench.c - times loading one dump with libmeliae and prints one JSON
 * line: parse + index, parents, collapse, their sum, objects/s, GB/s, the
 * graph's own memory and the process's peak RSS per object.  CPU times are
 * summed over the threads the engine uses.  Afterwards the dump is parsed
 * once more on this thread alone through the incremental loader (read and
 * parse, no index), which gives the parser's own rate per core
 * ("parse_only_*", not part of the totals).
 *
 *   loadbench DUMP [MAX_PARENTS]     (MAX_PARENTS default 100, -1 = all)
 */
#define _POSIX_C_SOURCE 200809L
#include "meliae.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double now(void)
{
    return clock_s(CLOCK_MONOTONIC);
}

static double cpu(void)
{
    return clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

/* Reads and parses path on the calling thread (1 MiB reads, no index, no
 * graph built); returns the thread CPU seconds, or -1 on failure. */
static double parse_only(const char *path)
{
    enum { BUF = 1 << 20 };
    char *buf = malloc(BUF);
    mel_loader *l = NULL;
    mel_error err;
    double c0, c1 = -1;
    ssize_t r;
    int fd = open(path, O_RDONLY), rc = 0;

    if (fd < 0 || !buf || mel_loader_new(NULL, &l) != MEL_OK)
        goto done;
    c0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
    while ((r = read(fd, buf, BUF)) > 0 && rc == 0)
        rc = mel_loader_feed(l, buf, (size_t)r, &err);
    c1 = clock_s(CLOCK_THREAD_CPUTIME_ID) - c0;
    if (rc || r < 0)
        c1 = -1;
done:
    mel_loader_free(l);
    if (fd >= 0)
        close(fd);
    free(buf);
    return c1;
}

int main(int argc, char **argv)
{
    mel_graph *g = NULL;
    mel_load_report rep;
    mel_error err;
    struct rusage ru;
    struct stat st;
    double t0, t1, t2, t3, total, c0, c1, c2, c3, po, gmem;
    uint64_t ncollapsed = 0, nobj;
    int64_t max_parents = argc > 2 ? strtoll(argv[2], NULL, 10) : 100;
    int rc;

    if (argc < 2) {
        fprintf(stderr, "usage: loadbench DUMP [MAX_PARENTS]\n");
        return 2;
    }
    if (stat(argv[1], &st) != 0) {
        perror(argv[1]);
        return 1;
    }
    c0 = cpu();
    t0 = now();
    rc = mel_load_path(argv[1], NULL, &g, &rep, &err);
    t1 = now();
    c1 = cpu();
    if (rc) {
        fprintf(stderr, "loadbench: %s: %s (line %llu, column %llu)\n", err.msg, err.detail,
                (unsigned long long)err.line, (unsigned long long)err.column);
        return 1;
    }
    rc = mel_graph_compute_parents(g, max_parents);
    t2 = now();
    c2 = cpu();
    if (!rc)
        rc = mel_collapse_instance_dicts(g, &ncollapsed, NULL, NULL);
    t3 = now();
    c3 = cpu();
    if (rc) {
        fprintf(stderr, "loadbench: %s\n", mel_strerror(rc));
        return 1;
    }
    getrusage(RUSAGE_SELF, &ru);
    nobj = rep.objects;
    gmem = (double)mel_graph_memory(g);
    mel_graph_free(g);
    po = parse_only(argv[1]);
    total = t3 - t0;
    printf("{\"file\": \"%s\", \"bytes\": %lld, \"objects\": %llu, \"bad_lines\": %llu, "
           "\"parse_s\": %.4f, \"parents_s\": %.4f, \"collapse_s\": %.4f, \"total_s\": %.4f, "
           "\"parse_cpu_s\": %.4f, \"parents_cpu_s\": %.4f, \"collapse_cpu_s\": %.4f, "
           "\"total_cpu_s\": %.4f, "
           "\"objects_per_s\": %.0f, \"parse_gb_per_s\": %.3f, \"graph_bytes_per_object\": %.1f, "
           "\"peak_rss_bytes_per_object\": %.1f, \"collapsed\": %llu, \"max_parents\": %lld, "
           "\"parse_only_cpu_s\": %.4f, \"parse_only_gb_per_s\": %.3f}\n",
           argv[1], (long long)st.st_size, (unsigned long long)nobj,
           (unsigned long long)rep.bad_lines, t1 - t0, t2 - t1, t3 - t2, total, c1 - c0, c2 - c1,
           c3 - c2, c3 - c0,
           (double)nobj / total, (double)st.st_size / (t1 - t0) / 1e9,
           gmem / (double)nobj,
           (double)ru.ru_maxrss * 1024.0 / (double)nobj, (unsigned long long)ncollapsed,
           (long long)max_parents, po, po > 0 ? (double)st.st_size / po / 1e9 : 0.0);
    return 0;
}
