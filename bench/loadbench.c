/*
 * loadbench.c - times loading one dump with libmeliae and prints one JSON
 * line: parse + index, parents, collapse, their sum, objects/s, GB/s, the
 * graph's own memory and the process's peak RSS per object.
 *
 *   loadbench DUMP [MAX_PARENTS]     (MAX_PARENTS default 100, -1 = all)
 */
#define _POSIX_C_SOURCE 200809L
#include "meliae.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(int argc, char **argv)
{
    mel_graph *g = NULL;
    mel_load_report rep;
    mel_error err;
    struct rusage ru;
    struct stat st;
    double t0, t1, t2, t3, total, c0, c1, c2, c3;
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
    total = t3 - t0;
    printf("{\"file\": \"%s\", \"bytes\": %lld, \"objects\": %llu, \"bad_lines\": %llu, "
           "\"parse_s\": %.4f, \"parents_s\": %.4f, \"collapse_s\": %.4f, \"total_s\": %.4f, "
           "\"parse_cpu_s\": %.4f, \"parents_cpu_s\": %.4f, \"collapse_cpu_s\": %.4f, "
           "\"total_cpu_s\": %.4f, "
           "\"objects_per_s\": %.0f, \"parse_gb_per_s\": %.3f, \"graph_bytes_per_object\": %.1f, "
           "\"peak_rss_bytes_per_object\": %.1f, \"collapsed\": %llu, \"max_parents\": %lld}\n",
           argv[1], (long long)st.st_size, (unsigned long long)nobj,
           (unsigned long long)rep.bad_lines, t1 - t0, t2 - t1, t3 - t2, total, c1 - c0, c2 - c1,
           c3 - c2, c3 - c0,
           (double)nobj / total, (double)st.st_size / (t1 - t0) / 1e9,
           (double)mel_graph_memory(g) / (double)nobj,
           (double)ru.ru_maxrss * 1024.0 / (double)nobj, (unsigned long long)ncollapsed,
           (long long)max_parents);
    mel_graph_free(g);
    return 0;
}
