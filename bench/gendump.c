/*
 * gendump.c - writes a synthetic meliae dump (docs/format.md 2.0: header,
 * object lines, trailer) for load benchmarks.
 *
 *   gendump N OUT [SEED]        (OUT "-" = stdout)
 *
 * About 190 bytes and 6 refs per object on average, 15-digit addresses in a
 * scattered order, a realistic type mix (str, int, dict, tuple, list,
 * instances of eight classes with managed values, functions, code, float,
 * bytes, set, type objects), some values with JSON escapes.  Reference
 * targets: 60% near the referrer in file order, 25% among 1000 hot objects,
 * 15% uniformly random.  Deterministic for a given N and SEED.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NCLASSES 8
#define HOT 1000

static uint64_t rng_state;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t below(uint64_t n)
{
    return n ? rnd() % n : 0;
}

static uint64_t n_objects;

/* Address of object i: unique, scattered, 15 decimal digits. */
static uint64_t addr_of(uint64_t i)
{
    uint64_t slot = (i * 2654435761u) & 0xffffffffu;
    return 139637976727552ull + slot * 16;
}

static char *buf;
static size_t blen, bcap = (size_t)8 << 20;
static FILE *out;

static void flush_buf(void)
{
    if (blen && fwrite(buf, 1, blen, out) != blen) {
        perror("gendump: write");
        exit(1);
    }
    blen = 0;
}

static void put(const char *s, size_t n)
{
    if (blen + n > bcap)
        flush_buf();
    memcpy(buf + blen, s, n);
    blen += n;
}

#define PUTS(lit) put(lit, sizeof(lit) - 1)

static void put_u64(uint64_t v)
{
    char tmp[24];
    int k = 24;
    do {
        tmp[--k] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    put(tmp + k, (size_t)(24 - k));
}

static void put_i64(int64_t v)
{
    if (v < 0) {
        PUTS("-");
        put_u64((uint64_t)0 - (uint64_t)v);
    } else {
        put_u64((uint64_t)v);
    }
}

/* A reference target for object i. */
static uint64_t target(uint64_t i)
{
    uint64_t r = below(100);
    if (r < 60) {
        int64_t d = (int64_t)below(128) - 64;
        int64_t t = (int64_t)i + (d == 0 ? 1 : d);
        if (t < 0)
            t = -t;
        if ((uint64_t)t >= n_objects)
            t = (int64_t)(n_objects - 1 - below(64));
        return (uint64_t)t;
    }
    if (r < 85)
        return below(HOT < n_objects ? HOT : n_objects);
    return below(n_objects);
}

static void put_refs(uint64_t i, unsigned n, uint64_t last)
{
    unsigned k;
    PUTS("\"refs\": [");
    for (k = 0; k < n; k++) {
        if (k)
            PUTS(", ");
        put_u64(addr_of(target(i)));
    }
    if (last) {
        if (n)
            PUTS(", ");
        put_u64(last);
    }
    PUTS("]}\n");
}

static const char *const words[] = {"user", "session", "cache", "request", "token", "value",
                                    "item", "config", "handler", "result", "node", "key"};

static void put_text_value(unsigned len)
{
    unsigned k;
    PUTS("\"value\": \"");
    for (k = 0; k < len; k++) {
        uint64_t r = below(400);
        if (r == 0)
            PUTS("\\\"");
        else if (r == 1)
            PUTS("\\u00e9");
        else if (r == 2)
            PUTS("\\n");
        else if (r == 3)
            PUTS("\\\\");
        else
            put(&"abcdefghijklmnopqrstuvwxyz_0123456789"[below(37)], 1);
    }
    PUTS("\", ");
}

static void line_start(uint64_t i, const char *type, uint64_t size)
{
    PUTS("{\"address\": ");
    put_u64(addr_of(i));
    PUTS(", \"type\": \"");
    put(type, strlen(type));
    PUTS("\", \"size\": ");
    put_u64(size);
    PUTS(", ");
}

static void put_type_addr(uint64_t ta)
{
    PUTS("\"type_addr\": ");
    put_u64(ta);
    PUTS(", ");
}

/* Type objects live at indexes 0..NCLASSES+7; their addresses are used as
 * type_addr by every instance. */
static const char *const builtin_types[] = {"str", "int", "dict", "tuple", "list", "function",
                                            "code", "float"};
static const char *const class_names[NCLASSES] = {"User", "Session", "Request", "Node",
                                                  "Handler", "Token", "Entry", "Config"};
#define NTYPES (8 + NCLASSES)

static uint64_t type_index(unsigned k)
{
    return k;
}

static void write_type(uint64_t i, unsigned k)
{
    const char *name = k < 8 ? builtin_types[k] : class_names[k - 8];
    line_start(i, "type", k < 8 ? 408 : 1072);
    PUTS("\"name\": \"");
    put(name, strlen(name));
    PUTS("\", \"qualname\": \"");
    if (k < 8)
        PUTS("builtins.");
    else
        PUTS("app.models.");
    put(name, strlen(name));
    PUTS("\", ");
    if (k < 8)
        PUTS("\"static\": true, ");
    put_refs(i, k < 8 ? 0 : 4, 0);
}

static void write_object(uint64_t i)
{
    uint64_t r = below(100);
    unsigned n, k;

    if (i < NTYPES) {
        write_type(i, (unsigned)i);
        return;
    }
    if (r < 25) { /* str */
        unsigned len = 4 + (unsigned)below(30);
        line_start(i, "str", 49 + len);
        put_type_addr(addr_of(type_index(0)));
        PUTS("\"len\": ");
        put_u64(len);
        PUTS(", ");
        put_text_value(len);
        put_refs(i, 0, 0);
    } else if (r < 35) { /* int */
        line_start(i, "int", 28 + 4 * below(2));
        put_type_addr(addr_of(type_index(1)));
        PUTS("\"value\": ");
        put_i64((int64_t)below(2000000000000ull) - 1000000);
        PUTS(", ");
        put_refs(i, 0, 0);
    } else if (r < 50) { /* dict: key, value pairs */
        unsigned pairs = 1 + (unsigned)below(12);
        line_start(i, "dict", 64 + 32 * pairs);
        put_type_addr(addr_of(type_index(2)));
        PUTS("\"len\": ");
        put_u64(pairs);
        PUTS(", ");
        put_refs(i, 2 * pairs, 0);
    } else if (r < 62) { /* tuple */
        n = 1 + (unsigned)below(8);
        line_start(i, "tuple", 40 + 8 * n);
        put_type_addr(addr_of(type_index(3)));
        PUTS("\"len\": ");
        put_u64(n);
        PUTS(", ");
        put_refs(i, n, 0);
    } else if (r < 70) { /* list */
        n = (unsigned)below(31);
        line_start(i, "list", 56 + 8 * n);
        put_type_addr(addr_of(type_index(4)));
        PUTS("\"len\": ");
        put_u64(n);
        PUTS(", ");
        put_refs(i, n, 0);
    } else if (r < 85) { /* instance with managed values: name, value pairs, then the type */
        unsigned cls = (unsigned)below(NCLASSES);
        uint64_t ta = addr_of(type_index(8 + cls));
        unsigned kv = 2 + (unsigned)below(6);
        line_start(i, class_names[cls], 48 + 8 * kv);
        put_type_addr(ta);
        PUTS("\"kv\": ");
        put_u64(kv);
        PUTS(", ");
        put_refs(i, 2 * kv, ta);
    } else if (r < 90) { /* function */
        line_start(i, "function", 160);
        put_type_addr(addr_of(type_index(5)));
        PUTS("\"name\": \"");
        k = (unsigned)below(12);
        put(words[k], strlen(words[k]));
        PUTS("_fn\", ");
        put_refs(i, 6, 0);
    } else if (r < 94) { /* code */
        line_start(i, "code", 200 + 8 * below(30));
        put_type_addr(addr_of(type_index(6)));
        put_refs(i, 8, 0);
    } else if (r < 97) { /* float */
        line_start(i, "float", 24);
        put_type_addr(addr_of(type_index(7)));
        put_refs(i, 0, 0);
    } else if (r < 99) { /* bytes */
        unsigned len = 4 + (unsigned)below(24);
        line_start(i, "bytes", 33 + len);
        PUTS("\"len\": ");
        put_u64(len);
        PUTS(", ");
        put_text_value(len);
        put_refs(i, 0, 0);
    } else { /* set */
        line_start(i, "set", 216);
        PUTS("\"len\": 4, ");
        put_refs(i, 4, 0);
    }
}

int main(int argc, char **argv)
{
    uint64_t i;

    if (argc < 3) {
        fprintf(stderr, "usage: gendump N OUT [SEED]\n");
        return 2;
    }
    n_objects = strtoull(argv[1], NULL, 10);
    if (n_objects < NTYPES + 1 || n_objects > 1000000000ull) {
        fprintf(stderr, "gendump: N must be in [%d, 1e9]\n", NTYPES + 1);
        return 2;
    }
    rng_state = argc > 3 ? strtoull(argv[3], NULL, 10) : 42;
    out = strcmp(argv[2], "-") == 0 ? stdout : fopen(argv[2], "wb");
    if (!out) {
        perror(argv[2]);
        return 1;
    }
    buf = malloc(bcap);
    if (!buf)
        return 1;
    PUTS("{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], "
         "\"python\": \"3.11.7\", \"implementation\": \"CPython\", \"pointer_size\": 8, "
         "\"gc_head_size\": 16, \"pid\": 4242, \"time\": 1795000000.25, \"argv\": [\"gendump\"], "
         "\"entry\": \"dump_all_objects\", \"value_limit\": 100, \"values\": true, \"roots\": "
         "[{\"kind\": \"modules\", \"name\": \"sys.modules\", \"address\": ");
    put_u64(addr_of(NTYPES));
    PUTS("}]}\n");
    for (i = 0; i < n_objects; i++)
        write_object(i);
    PUTS("{\"meliae\": \"end\", \"objects\": ");
    put_u64(n_objects);
    PUTS(", \"complete\": true}\n");
    flush_buf();
    if (out != stdout && fclose(out) != 0) {
        perror("gendump: close");
        return 1;
    }
    free(buf);
    return 0;
}
