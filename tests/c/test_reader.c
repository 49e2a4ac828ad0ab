/* test_reader.c - the JSON-lines loader: malformed inputs with exact error
 * locations, every value form, headers/trailers, classic forms, chunking,
 * compressed and piped input, and out-of-memory injection. */
#define _POSIX_C_SOURCE 200809L
#include "loader_internal.h"
#include "meliae.h"
#include "mtest.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

static const char L1[] = "{\"address\": 1, \"type\": \"int\", \"size\": 12, \"refs\": []}\n";

/* Loads text fed as one chunk (or in pieces of `piece` bytes if > 0). */
static int load_str(const char *text, size_t len, int strict, size_t piece, size_t max_line,
                    mel_graph **g, mel_load_report *rep, mel_error *err)
{
    mel_load_options o;
    mel_loader *l = NULL;
    int rc;
    size_t k;

    memset(&o, 0, sizeof o);
    memset(err, 0, sizeof *err);
    o.strict = strict;
    o.max_line = max_line;
    *g = NULL;
    rc = mel_loader_new(&o, &l);
    if (rc)
        return rc;
    if (piece == 0)
        piece = len ? len : 1;
    for (k = 0; k < len; k += piece) {
        size_t n = len - k < piece ? len - k : piece;
        rc = mel_loader_feed(l, text + k, n, err);
        if (rc)
            break;
    }
    if (!rc)
        rc = mel_loader_finish(l, g, rep, err);
    mel_loader_free(l);
    return rc;
}

/* 1-based column of the first occurrence of needle in line. */
static uint64_t col_of(const char *line, const char *needle)
{
    const char *p = strstr(line, needle);
    return p ? (uint64_t)(p - line) + 1 : 0;
}

typedef struct bad_case {
    const char *name;
    const char *line;   /* the bad line (line 2), without '\n' */
    int code;
    const char *at;     /* token the error points at; NULL = column given */
    uint64_t column;    /* used when at == NULL */
} bad_case;

static void test_malformed_table(void)
{
    static const bad_case cases[] = {
        {"truncated JSON", "{\"address\": 2, \"type\": \"int\", \"size\": 1", MEL_ESYNTAX, NULL, 40},
        {"missing address", "{\"type\": \"int\", \"size\": 12, \"refs\": []}", MEL_EFIELD, "{", 0},
        {"missing type", "{\"address\": 2, \"size\": 12}", MEL_EFIELD, "{", 0},
        {"missing size", "  {\"address\": 2, \"type\": \"x\"}", MEL_EFIELD, "{", 0},
        {"refs not a list", "{\"address\": 2, \"type\": \"int\", \"size\": 12, \"refs\": 5}",
         MEL_EFIELD, "5}", 0},
        {"refs holding a string", "{\"address\": 2, \"type\": \"t\", \"size\": 1, \"refs\": [1, \"x\"]}",
         MEL_EFIELD, "\"x\"", 0},
        {"negative size", "{\"address\": 2, \"type\": \"int\", \"size\": -5, \"refs\": []}",
         MEL_ERANGE, "-5", 0},
        {"address beyond 2^64", "{\"address\": 18446744073709551616, \"type\": \"int\", \"size\": 1}",
         MEL_ERANGE, "18446744073709551616", 0},
        {"size beyond 2^64", "{\"address\": 3, \"type\": \"int\", \"size\": 99999999999999999999999}",
         MEL_ERANGE, "999", 0},
        {"fractional address", "{\"address\": 2.5, \"type\": \"int\", \"size\": 1}", MEL_EFIELD,
         "2.5", 0},
        {"address as string", "{\"address\": \"2\", \"type\": \"int\", \"size\": 1}", MEL_EFIELD,
         "\"2\"", 0},
        {"type not a string", "{\"address\": 2, \"type\": 7, \"size\": 1}", MEL_EFIELD, "7,", 0},
        {"bad escape", "{\"address\": 2, \"type\": \"str\", \"size\": 1, \"value\": \"a\\qb\"}",
         MEL_EENCODING, "\\q", 0},
        {"bad \\u escape", "{\"address\": 2, \"type\": \"str\", \"size\": 1, \"value\": \"\\u12G4\"}",
         MEL_EENCODING, "\\u12G4", 0},
        {"invalid UTF-8", "{\"address\": 2, \"type\": \"str\", \"size\": 1, \"value\": \"ab\xff\"}",
         MEL_EENCODING, "\xff", 0},
        {"overlong UTF-8", "{\"address\": 2, \"type\": \"str\", \"size\": 1, \"value\": \"\xc0\xaf\"}",
         MEL_EENCODING, "\xc0", 0},
        {"unterminated string", "{\"address\": 2, \"type\": \"str", MEL_ESYNTAX, NULL, 28},
        {"missing colon", "{\"address\" 2, \"type\": \"int\", \"size\": 1}", MEL_ESYNTAX, "2, \"type\"", 0},
        {"leading zero", "{\"address\": 02, \"type\": \"int\", \"size\": 1}", MEL_ESYNTAX, "02", 0},
        {"garbage after object", "{\"address\": 2, \"type\": \"int\", \"size\": 1} x", MEL_ESYNTAX,
         "x", 0},
        {"not an object", "hello", MEL_ESYNTAX, NULL, 1},
        {"bad nested unknown key", "{\"address\": 2, \"type\": \"t\", \"size\": 1, \"x\": [1, {\"a\" 1}]}",
         MEL_ESYNTAX, "1}]", 0},
        {"header after objects", "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0]}",
         MEL_EFIELD, "{", 0},
        {"bad meliae marker", "{\"meliae\": \"what\"}", MEL_EFIELD, "\"what\"", 0},
        {"kv beyond half the refs", "{\"address\": 2, \"type\": \"Foo\", \"size\": 1, \"kv\": 2, "
         "\"refs\": [5, 6, 7]}", MEL_EFIELD, "2, \"refs\"", 0},
        {"kv without refs", "{\"address\": 2, \"type\": \"Foo\", \"size\": 1, \"kv\": 1}",
         MEL_EFIELD, "1}", 0},
        {"kv before short refs", "{\"kv\": 3, \"address\": 2, \"type\": \"Foo\", \"size\": 1, "
         "\"refs\": [5, 6, 7, 8, 9]}", MEL_EFIELD, "3,", 0},
    };
    size_t k;

    for (k = 0; k < sizeof cases / sizeof *cases; k++) {
        const bad_case *bc = &cases[k];
        char buf[512];
        size_t len;
        mel_graph *g;
        mel_load_report rep;
        mel_error err;
        uint64_t col = bc->at ? col_of(bc->line, bc->at) : bc->column;
        int rc;

        len = (size_t)snprintf(buf, sizeof buf, "%s%s\n%s", L1, bc->line, L1);
        /* the third line repeats address 1: a duplicate, not an error */
        MT_CHECK(col != 0);
        /* strict: the load fails at line 2 */
        rc = load_str(buf, len, 1, 0, 0, &g, &rep, &err);
        if (rc != bc->code || err.line != 2 || err.column != col)
            fprintf(stderr, "  case '%s': rc %d line %llu col %llu (%s), want %d col %llu\n",
                    bc->name, rc, (unsigned long long)err.line, (unsigned long long)err.column,
                    err.detail, bc->code, (unsigned long long)col);
        MT_EQ_INT(rc, bc->code);
        MT_EQ_INT(err.line, 2);
        MT_EQ_INT(err.column, col);
        MT_EQ_INT(err.byte_offset, strlen(L1) + col - 1);
        MT_CHECK(err.msg != NULL);
        MT_CHECK(g == NULL);
        /* default: the line is skipped and counted */
        rc = load_str(buf, len, 0, 0, 0, &g, &rep, &err);
        MT_EQ_INT(rc, MEL_OK);
        MT_EQ_INT(rep.bad_lines, 1);
        MT_EQ_INT(rep.first_bad.code, bc->code);
        MT_EQ_INT(rep.first_bad.line, 2);
        MT_EQ_INT(rep.first_bad.column, col);
        MT_EQ_INT(rep.objects, 1);
        MT_EQ_INT(rep.duplicates, 1);
        MT_EQ_INT(rep.lines, 3);
        mel_graph_free(g);
    }
}

static void test_nul_bytes(void)
{
    const char text[] = "{\"address\": 1, \"type\": \"s\", \"size\": 1, \"value\": \"a\0b\"}\n"
                        "\0{\"address\": 2, \"type\": \"s\", \"size\": 1}\n";
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    int rc = load_str(text, sizeof text - 1, 0, 0, 0, &g, &rep, &err);

    MT_EQ_INT(rc, MEL_ESYNTAX); /* both lines bad: no object at all */
    MT_EQ_INT(err.line, 1);
    MT_EQ_INT(err.column, col_of(text, "\"value\": \"a") + 11); /* the NUL after "a */
    MT_EQ_INT(rep.bad_lines, 2);
    MT_CHECK(g == NULL);
}

static void test_version_and_empty(void)
{
    const char v3[] = "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [3, 0]}\n";
    char buf[512];
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    int rc;

    /* an unknown major version is fatal even when not strict */
    snprintf(buf, sizeof buf, "%s%s", v3, L1);
    rc = load_str(buf, strlen(buf), 0, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_EVERSION);
    MT_EQ_INT(err.line, 1);
    MT_EQ_INT(err.column, col_of(v3, "[3"));
    MT_CHECK(g == NULL);
    /* a newer minor version is fine */
    snprintf(buf, sizeof buf,
             "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 7], \"x\": {}}\n%s",
             L1);
    rc = load_str(buf, strlen(buf), 1, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.format_minor, 7);
    mel_graph_free(g);

    rc = load_str("", 0, 0, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_EEMPTY);
    MT_EQ_INT(err.line, 1);
    MT_EQ_INT(err.column, 1);
    MT_EQ_INT(err.byte_offset, 0);
    MT_CHECK(strstr(err.detail, "empty") != NULL);
    /* kv pairs that fit their refs exactly are fine */
    snprintf(buf, sizeof buf, "{\"address\": 2, \"type\": \"Foo\", \"size\": 1, \"kv\": 2, "
             "\"refs\": [5, 6, 7, 8]}\n");
    rc = load_str(buf, strlen(buf), 1, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(mel_graph_kv_pairs(g, 0), 2);
    mel_graph_free(g);
    rc = load_str(" \n\n\t\n", 5, 1, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_EEMPTY);
    rc = load_str("[\n]\n", 4, 1, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_EEMPTY);
}

/* A "kv" count beyond 16 bits, with the refs its pairs need. */
static void test_kv_large(void)
{
    size_t cap = 140000 * 8 + 256, w, k;
    char *buf = malloc(cap);
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    int rc;

    MT_CHECK(buf != NULL);
    if (!buf)
        return;
    w = (size_t)snprintf(buf, cap, "{\"address\": 1, \"type\": \"Foo\", \"size\": 60, \"kv\": 70000, \"refs\": [");
    for (k = 0; k < 140000; k++)
        w += (size_t)snprintf(buf + w, cap - w, k ? ", %zu" : "%zu", 100 + k % 1000);
    w += (size_t)snprintf(buf + w, cap - w, "]}\n");
    rc = load_str(buf, w, 1, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    if (!rc) {
        MT_EQ_INT(mel_graph_kv_pairs(g, 0), 70000);
        mel_graph_free(g);
    }
    free(buf);
}

static void test_garbage_binary(void)
{
    unsigned char junk[4096];
    uint32_t x = 12345;
    size_t k;
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    int rc;

    for (k = 0; k < sizeof junk; k++) {
        x = x * 1103515245u + 12345u;
        junk[k] = (unsigned char)(x >> 16);
    }
    junk[0] = 0x01;
    rc = load_str((const char *)junk, sizeof junk, 0, 0, 0, &g, &rep, &err);
    MT_CHECK(rc != MEL_OK);
    MT_CHECK(g == NULL);
    MT_CHECK(rep.bad_lines >= 1);
    MT_EQ_INT(rep.first_bad.line, 1);
    MT_EQ_INT(rep.first_bad.column, 1);
    rc = load_str((const char *)junk, sizeof junk, 1, 7, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_ESYNTAX);
    MT_EQ_INT(err.line, 1);
}

static void test_duplicates_and_dangling(void)
{
    const char text[] = "{\"address\": 5, \"type\": \"A\", \"size\": 1, \"refs\": [99, 6, 98, 99]}\n"
                        "{\"address\": 6, \"type\": \"B\", \"size\": 2, \"refs\": [5]}\n"
                        "{\"address\": 5, \"type\": \"C\", \"size\": 3, \"refs\": [6]}\n";
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    const uint32_t *c;
    uint32_t n, i99, i98;
    uint64_t total;
    int rc = load_str(text, sizeof text - 1, 1, 0, 0, &g, &rep, &err);

    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.duplicates, 1);
    MT_EQ_INT(rep.dangling_refs, 3);
    MT_EQ_INT(mel_graph_count(g), 2);
    MT_EQ_INT(mel_graph_missing(g), 2);
    MT_EQ_STR(mel_graph_type_name(g, mel_graph_type(g, mel_graph_lookup(g, 5)), NULL), "A");
    MT_EQ_INT(mel_graph_size(g, mel_graph_lookup(g, 5)), 1);
    MT_EQ_INT(mel_graph_lookup(g, 99), MEL_NONE);
    i99 = mel_graph_lookup_any(g, 99);
    i98 = mel_graph_lookup_any(g, 98);
    MT_EQ_INT(i99, 2);
    MT_EQ_INT(i98, 3);
    MT_EQ_INT(mel_graph_flags(g, i99), MEL_NODE_MISSING);
    MT_EQ_STR(mel_graph_type_name(g, mel_graph_type(g, i99), NULL), "<missing>");
    c = mel_graph_children(g, 0, &n);
    MT_EQ_INT(n, 4);
    MT_EQ_INT(c[0], i99);
    MT_EQ_INT(c[1], 1);
    MT_EQ_INT(c[2], i98);
    MT_EQ_INT(c[3], i99);
    /* walks never crash on dangling refs */
    MT_EQ_INT(mel_total_size(g, 0, NULL, 0, &total), MEL_OK);
    MT_EQ_INT(total, 3);
    MT_EQ_INT(mel_graph_compute_parents(g, -1), MEL_OK);
    mel_graph_parents(g, i99, &n);
    MT_EQ_INT(n, 1);
    mel_graph_free(g);
}

static void test_values(void)
{
    const char text[] =
        "{\"refs\": [], \"value\": \"a \\\"q\\\" \\\\ \\/ \\u0000\\u00ff\\u000a\", \"size\": 50, \"type\": \"str\", \"address\": 1}\n"
        "{\"address\": 2, \"type\": \"str\", \"size\": 1, \"value\": \"uni \\u00b5 \\u20ac \\ud83d\\ude00\"}\n"
        "{\"address\": 3, \"type\": \"str\", \"size\": 1, \"value\": \"lone \\ud800!\"}\n"
        "{\"address\": 4, \"type\": \"bool\", \"size\": 24, \"value\": \"True\"}\n"
        "{\"address\": 5, \"type\": \"bool\", \"size\": 24, \"value\": \"False\"}\n"
        "{\"address\": 6, \"type\": \"str\", \"size\": 24, \"value\": \"True\"}\n"
        "{\"address\": 7, \"type\": \"int\", \"size\": 24, \"value\": -9223372036854775808}\n"
        "{\"address\": 8, \"type\": \"int\", \"size\": 36, \"value\": 9223372036854775808}\n"
        "{\"address\": 9, \"type\": \"float\", \"size\": 24, \"value\": 1.5e3}\n"
        "{\"address\": 10, \"type\": \"x\", \"size\": 24, \"value\": null}\n"
        "{\"address\": 11, \"type\": \"x\", \"size\": 24, \"value\": true}\n"
        "{\"address\": 12, \"type\": \"module\", \"size\": 60, \"name\": \"mymod\", \"len\": 3}\n"
        "{\"address\": 13, \"type\": \"frame\", \"size\": 60, \"name\": \"n\", \"value\": \"<module>\"}\n"
        "{\"address\": 14, \"type\": \"big\", \"size\": 5000000000, \"len\": 4294967296, \"static\": true}\n"
        "{\"address\": 15, \"type\": \"caf\\u00e9\", \"size\": 1, \"u\": {\"k\": [1, [2, {}]], \"s\": \"\\n\"}}\n";
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    mel_value v;
    int rc = load_str(text, sizeof text - 1, 1, 0, 0, &g, &rep, &err);

    if (rc)
        fprintf(stderr, "  %s line %llu col %llu\n", err.detail, (unsigned long long)err.line,
                (unsigned long long)err.column);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(mel_graph_count(g), 15);
    MT_EQ_INT(rep.classic, 1);
    mel_graph_value(g, 0, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_TEXT);
    MT_EQ_INT(v.text_len, 14);
    MT_CHECK(memcmp(v.text, "a \"q\" \\ / \0\xc3\xbf\n", 14) == 0);
    mel_graph_value(g, 1, &v);
    MT_EQ_INT(v.text_len, strlen("uni \xc2\xb5 \xe2\x82\xac \xf0\x9f\x98\x80"));
    MT_CHECK(memcmp(v.text, "uni \xc2\xb5 \xe2\x82\xac \xf0\x9f\x98\x80", v.text_len) == 0);
    mel_graph_value(g, 2, &v);
    MT_EQ_INT(v.text_len, 9);
    MT_CHECK(memcmp(v.text, "lone \xed\xa0\x80!", 9) == 0); /* WTF-8 */
    mel_graph_value(g, 3, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_BOOL);
    MT_EQ_INT(v.i, 1);
    mel_graph_value(g, 4, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_BOOL);
    MT_EQ_INT(v.i, 0);
    mel_graph_value(g, 5, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_TEXT);
    mel_graph_value(g, 6, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_INT);
    MT_CHECK(v.i == INT64_MIN);
    mel_graph_value(g, 7, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_NONE); /* beyond int64: dropped */
    mel_graph_value(g, 8, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_NONE);
    mel_graph_value(g, 9, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_NULL);
    mel_graph_value(g, 10, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_BOOL);
    MT_EQ_INT(v.i, 1);
    mel_graph_value(g, 11, &v);
    MT_EQ_INT(v.kind, MEL_VALUE_TEXT);
    MT_EQ_INT(v.is_name, 1);
    MT_EQ_INT(v.text_len, 5);
    MT_EQ_INT(mel_graph_len(g, 11), 3);
    MT_EQ_INT(mel_graph_kv_pairs(g, 11), 0);
    mel_graph_value(g, 12, &v); /* "value" wins over "name" */
    MT_EQ_INT(v.is_name, 0);
    MT_EQ_INT(v.text_len, 8);
    MT_CHECK(mel_graph_size(g, 13) == 5000000000ull);
    MT_CHECK(mel_graph_len(g, 13) == 4294967296ll);
    MT_EQ_INT(mel_graph_flags(g, 13), MEL_NODE_STATIC);
    MT_EQ_INT(mel_graph_len(g, 0), -1);
    MT_EQ_STR(mel_graph_type_name(g, mel_graph_type(g, 14), NULL), "caf\xc3\xa9");
    mel_graph_free(g);
}

static void test_header_trailer_roots(void)
{
    const char head[] =
        "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], \"python\": \"3.11.7\", "
        "\"pointer_size\": 8, \"roots\": [{\"kind\": \"modules\", \"name\": \"sys.modules\", \"address\": 10}, "
        "{\"kind\": \"thread\", \"address\": 77}]}\n"
        "{\"address\": 10, \"type\": \"dict\", \"size\": 1, \"refs\": [11, 20]}\n"
        "{\"address\": 11, \"type\": \"Foo\", \"size\": 2, \"type_addr\": 100, \"refs\": [100]}\n"
        "{\"address\": 20, \"type\": \"Foo\", \"size\": 2, \"type_addr\": 200, \"refs\": [200]}\n"
        "{\"address\": 21, \"type\": \"Bar\", \"size\": 2, \"type_addr\": 300, \"refs\": [300]}\n"
        "{\"address\": 100, \"type\": \"type\", \"size\": 9, \"name\": \"Foo\", \"qualname\": \"app.a.Foo\"}\n"
        "{\"address\": 200, \"type\": \"type\", \"size\": 9, \"name\": \"Foo\", \"qualname\": \"app.b.Foo\"}\n"
        "{\"address\": 300, \"type\": \"type\", \"size\": 9, \"name\": \"Bar\", \"qualname\": \"app.a.Bar\"}\n";
    const char trailer[] = "{\"meliae\": \"end\", \"objects\": 7, \"complete\": false}\n";
    char buf[4096];
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    const char *kind, *name;
    uint32_t node;
    int rc;

    rc = load_str(head, sizeof head - 1, 1, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.has_header, 1);
    MT_EQ_INT(rep.has_trailer, 0); /* truncated */
    MT_EQ_INT(rep.classic, 0);
    MT_EQ_STR(rep.python_version, "3.11.7");
    MT_EQ_INT(rep.pointer_size, 8);
    MT_EQ_INT(rep.objects, 7);
    MT_EQ_INT(mel_graph_root_count(g), 2);
    MT_EQ_INT(mel_graph_root(g, 0, &kind, &name, &node), MEL_OK);
    MT_EQ_STR(kind, "modules");
    MT_EQ_STR(name, "sys.modules");
    MT_EQ_INT(node, mel_graph_lookup(g, 10));
    MT_EQ_INT(mel_graph_flags(g, node), MEL_NODE_ROOT);
    MT_EQ_INT(mel_graph_root(g, 1, &kind, &name, &node), MEL_OK);
    MT_CHECK(name == NULL);
    MT_EQ_INT(mel_graph_flags(g, node), MEL_NODE_ROOT | MEL_NODE_MISSING);
    MT_EQ_INT(mel_graph_root_address(g, 1), 77);
    /* two classes named Foo with different qualnames are told apart */
    MT_EQ_STR(mel_graph_type_name(g, mel_graph_type(g, mel_graph_lookup(g, 11)), NULL), "app.a.Foo");
    MT_EQ_STR(mel_graph_type_name(g, mel_graph_type(g, mel_graph_lookup(g, 20)), NULL), "app.b.Foo");
    MT_EQ_STR(mel_graph_type_name(g, mel_graph_type(g, mel_graph_lookup(g, 21)), NULL), "Bar");
    mel_graph_free(g);

    snprintf(buf, sizeof buf, "%s%s", head, trailer);
    rc = load_str(buf, strlen(buf), 1, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.has_trailer, 1);
    MT_EQ_INT(rep.trailer_complete, 0);
    MT_EQ_INT(rep.trailer_objects, 7);
    mel_graph_free(g);

    /* an object after the trailer is a bad line */
    snprintf(buf, sizeof buf, "%s%s%s", head, trailer, "{\"address\": 5, \"type\": \"x\", \"size\": 1}\n");
    rc = load_str(buf, strlen(buf), 0, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.bad_lines, 1);
    MT_EQ_INT(rep.first_bad.line, 10);
    mel_graph_free(g);

    /* a dump cut in the middle of a line: complete lines load, the cut one is bad */
    memcpy(buf, head, sizeof head - 1);
    memcpy(buf + sizeof head - 1, "{\"address\": 400, \"ty", 20);
    rc = load_str(buf, sizeof head - 1 + 20, 0, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.objects, 7);
    MT_EQ_INT(rep.bad_lines, 1);
    MT_EQ_INT(rep.first_bad.line, 9);
    MT_EQ_INT(rep.first_bad.code, MEL_ESYNTAX);
    MT_EQ_INT(rep.has_trailer, 0);
    mel_graph_free(g);
    /* a last line without '\n' that is complete counts */
    rc = load_str(L1, strlen(L1) - 1, 1, 0, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.objects, 1);
    mel_graph_free(g);
}

static void test_classic_forms(void)
{
    const char text[] = "[\n"
                        "{\"address\": 1, \"type\": \"tuple\", \"size\": 20, \"len\": 2, \"refs\": [2, 3]},\n"
                        "  {\"size\":20,\"refs\":[ 3 ,2 ],\"type\":\"tuple\",\"address\":2}  ,\r\n"
                        "\t{ \"address\" : 3 , \"type\" : \"int\" , \"size\" : 12 , \"value\" : 1 } \r\n"
                        "]\n";
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    const uint32_t *c;
    uint32_t n;
    int rc = load_str(text, sizeof text - 1, 1, 0, 0, &g, &rep, &err);

    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.objects, 3);
    MT_EQ_INT(rep.lines, 5);
    MT_EQ_INT(rep.bad_lines, 0);
    c = mel_graph_children(g, 1, &n);
    MT_EQ_INT(n, 2);
    MT_EQ_INT(mel_graph_address(g, c[0]), 3);
    MT_EQ_INT(mel_graph_address(g, c[1]), 2);
    mel_graph_free(g);
}

static void test_line_limit(void)
{
    char buf[1024];
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    int rc, k;
    size_t piece;

    snprintf(buf, sizeof buf, "%s{\"address\": 2, \"type\": \"str\", \"size\": 1, \"value\": \"%0100d\"}\n%s",
             L1, 7, "{\"address\": 3, \"type\": \"int\", \"size\": 12}\n");
    for (k = 0; k < 3; k++) {
        piece = k == 0 ? 0 : (k == 1 ? 1 : 13);
        rc = load_str(buf, strlen(buf), 0, piece, 64, &g, &rep, &err);
        MT_EQ_INT(rc, MEL_OK);
        MT_EQ_INT(rep.bad_lines, 1);
        MT_EQ_INT(rep.first_bad.code, MEL_ELIMIT);
        MT_EQ_INT(rep.first_bad.line, 2);
        MT_EQ_INT(rep.first_bad.column, 65);
        MT_EQ_INT(rep.objects, 2);
        MT_EQ_INT(rep.lines, 3);
        mel_graph_free(g);
    }
    rc = load_str(buf, strlen(buf), 1, 5, 64, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_ELIMIT);
    MT_EQ_INT(err.line, 2);
}

static void test_long_line(void)
{
    size_t vlen = 10u << 20, k;
    size_t cap = vlen + 256;
    char *buf = malloc(cap);
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    mel_value v;
    int rc, n;

    MT_CHECK(buf != NULL);
    if (!buf)
        return;
    n = snprintf(buf, cap, "{\"address\": 1, \"type\": \"str\", \"size\": 1, \"value\": \"");
    for (k = 0; k < vlen; k++)
        buf[n + k] = (char)('a' + k % 26);
    memcpy(buf + n + vlen, "\"}\n", 3);
    rc = load_str(buf, n + vlen + 3, 1, 1 << 16, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    mel_graph_value(g, 0, &v);
    MT_EQ_INT(v.text_len, vlen);
    MT_CHECK(v.text_len == vlen && v.text[vlen - 1] == (char)('a' + (vlen - 1) % 26));
    mel_graph_free(g);
    free(buf);
}

/* Every accessor of two graphs agrees. */
static int graphs_equal(const mel_graph *a, const mel_graph *b)
{
    uint32_t i, k, na, nb;
    if (mel_graph_count(a) != mel_graph_count(b) || mel_graph_missing(a) != mel_graph_missing(b))
        return 0;
    for (i = 0; i < mel_graph_count(a) + mel_graph_missing(a); i++) {
        mel_value va, vb;
        const uint32_t *ca = mel_graph_children(a, i, &na), *cb = mel_graph_children(b, i, &nb);
        if (mel_graph_address(a, i) != mel_graph_address(b, i) ||
            mel_graph_size(a, i) != mel_graph_size(b, i) || mel_graph_len(a, i) != mel_graph_len(b, i) ||
            mel_graph_flags(a, i) != mel_graph_flags(b, i) ||
            strcmp(mel_graph_type_name(a, mel_graph_type(a, i), NULL),
                   mel_graph_type_name(b, mel_graph_type(b, i), NULL)) != 0 || na != nb)
            return 0;
        for (k = 0; k < na; k++)
            if (ca[k] != cb[k])
                return 0;
        mel_graph_value(a, i, &va);
        mel_graph_value(b, i, &vb);
        if (va.kind != vb.kind || va.i != vb.i || va.text_len != vb.text_len ||
            (va.text_len && memcmp(va.text, vb.text, va.text_len) != 0))
            return 0;
    }
    return 1;
}

static const char MIXED[] =
    "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], \"roots\": [{\"kind\": \"sys\", \"address\": 3}]}\n"
    "{\"address\": 1, \"type\": \"tuple\", \"size\": 20, \"len\": 2, \"refs\": [2, 3]}\n"
    "{\"address\": 3, \"type\": \"list\", \"size\": 44, \"len\": 3, \"refs\": [3, 4, 5, 77]}\n"
    "{\"address\": 5, \"type\": \"int\", \"size\": 12, \"value\": 1, \"refs\": []}\n"
    "bad line\n"
    "{\"address\": 4, \"type\": \"str\", \"size\": 12, \"value\": \"\\u00e9\\ud83d\\ude00x\", \"refs\": []}\n"
    "{\"address\": 2, \"type\": \"dict\", \"size\": 124, \"len\": 2, \"refs\": [4, 5, 6, 7]}\n"
    "{\"meliae\": \"end\", \"objects\": 5, \"complete\": true}\n";

static void test_chunking(void)
{
    mel_graph *whole, *g;
    mel_load_report rep, rep2;
    mel_error err;
    size_t piece;
    int rc = load_str(MIXED, sizeof MIXED - 1, 0, 0, 0, &whole, &rep, &err);

    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.objects, 5);
    MT_EQ_INT(rep.bad_lines, 1);
    MT_EQ_INT(rep.has_trailer, 1);
    for (piece = 1; piece < 40; piece += 3) {
        rc = load_str(MIXED, sizeof MIXED - 1, 0, piece, 0, &g, &rep2, &err);
        MT_EQ_INT(rc, MEL_OK);
        MT_CHECK(g && graphs_equal(whole, g));
        MT_EQ_INT(rep2.bad_lines, 1);
        MT_EQ_INT(rep2.first_bad.line, rep.first_bad.line);
        MT_EQ_INT(rep2.first_bad.column, rep.first_bad.column);
        MT_EQ_INT(rep2.first_bad.byte_offset, rep.first_bad.byte_offset);
        mel_graph_free(g);
    }
    mel_graph_free(whole);
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    MT_CHECK(f != NULL);
    if (f) {
        MT_EQ_INT(fwrite(data, 1, len, f), len);
        fclose(f);
    }
}

static void test_gzip_and_paths(void)
{
    char plain[] = "/tmp/mel_test_reader_XXXXXX";
    char gzpath[64];
    mel_graph *whole, *g;
    mel_load_report rep;
    mel_error err;
    gzFile gz;
    FILE *f;
    long gzlen;
    char *gzdata;
    int fd = mkstemp(plain), rc;

    MT_CHECK(fd >= 0);
    if (fd < 0)
        return;
    close(fd);
    write_file(plain, MIXED, sizeof MIXED - 1);
    rc = mel_load_path(plain, NULL, &whole, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    snprintf(gzpath, sizeof gzpath, "%s.dump", plain); /* detected by magic, not name */
    gz = gzopen(gzpath, "wb6");
    MT_CHECK(gz != NULL);
    gzwrite(gz, MIXED, sizeof MIXED - 1);
    gzclose(gz);
    rc = mel_load_path(gzpath, NULL, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_CHECK(g && graphs_equal(whole, g));
    MT_EQ_INT(rep.has_trailer, 1);
    mel_graph_free(g);

    /* a gzip file cut short: complete objects are kept, the cut is reported */
    {
        mel_load_options o;
        int k;
        gz = gzopen(gzpath, "wb6");
        for (k = 1; k <= 500; k++)
            gzprintf(gz, "{\"address\": %d, \"type\": \"int\", \"size\": 12, \"refs\": [%d]}\n", k,
                     k + 1);
        gzclose(gz);
        f = fopen(gzpath, "rb");
        fseek(f, 0, SEEK_END);
        gzlen = ftell(f);
        fseek(f, 0, SEEK_SET);
        gzdata = malloc((size_t)gzlen);
        MT_EQ_INT(fread(gzdata, 1, (size_t)gzlen, f), gzlen);
        fclose(f);
        write_file(gzpath, gzdata, (size_t)gzlen / 2);
        rc = mel_load_path(gzpath, NULL, &g, &rep, &err);
        MT_EQ_INT(rc, MEL_OK);
        MT_CHECK(rep.bad_lines >= 1);
        MT_EQ_INT(rep.first_bad.code, MEL_ECOMPRESS);
        MT_CHECK(rep.objects > 10 && rep.objects < 500);
        mel_graph_free(g);
        memset(&o, 0, sizeof o);
        o.strict = 1;
        rc = mel_load_path(gzpath, &o, &g, &rep, &err);
        MT_EQ_INT(rc, MEL_ECOMPRESS);
        MT_CHECK(g == NULL);
        free(gzdata);
    }

    /* an empty file names itself, at line 1 column 1 */
    write_file(gzpath, "", 0);
    rc = mel_load_path(gzpath, NULL, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_EEMPTY);
    MT_EQ_INT(err.line, 1);
    MT_EQ_INT(err.column, 1);
    MT_CHECK(strstr(err.detail, "empty") != NULL && strstr(err.detail, gzpath) != NULL);
    MT_CHECK(g == NULL);

    rc = mel_load_path("/nonexistent/dir/x.dump", NULL, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_EIO);
    MT_CHECK(err.sys_errno != 0);
    MT_CHECK(strstr(err.detail, "/nonexistent/dir/x.dump") != NULL);

    /* zstd magic without zstd support is a clear error */
    if (!mel_have_zstd()) {
        static const unsigned char zmagic[] = {0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0};
        write_file(gzpath, zmagic, sizeof zmagic);
        rc = mel_load_path(gzpath, NULL, &g, &rep, &err);
        MT_EQ_INT(rc, MEL_EUNSUPPORTED);
    }
    remove(gzpath);
    remove(plain);
    mel_graph_free(whole);
}

/* Loads path with the two-thread split forced on (split_min 0) and off,
 * and checks both give the same result, error, report and graph. */
static void check_split_same(const char *what, const char *path, int strict)
{
    mel_load_options o;
    mel_graph *g1 = NULL, *g2 = NULL;
    mel_load_report r1, r2;
    mel_error e1, e2;
    int rc1, rc2;

    memset(&o, 0, sizeof o);
    o.strict = strict;
    mel__load_set_split_min(UINT64_MAX);
    rc1 = mel_load_path(path, &o, &g1, &r1, &e1);
    mel__load_set_split_min(0);
    rc2 = mel_load_path(path, &o, &g2, &r2, &e2);
    mel__load_set_split_min((uint64_t)32 << 20);
    if (rc1 != rc2 || e1.line != e2.line || e1.column != e2.column ||
        r1.objects != r2.objects || r1.bad_lines != r2.bad_lines || r1.lines != r2.lines)
        fprintf(stderr, "  split '%s' strict=%d: rc %d/%d line %llu/%llu col %llu/%llu "
                "objects %llu/%llu bad %llu/%llu lines %llu/%llu\n", what, strict, rc1, rc2,
                (unsigned long long)e1.line, (unsigned long long)e2.line,
                (unsigned long long)e1.column, (unsigned long long)e2.column,
                (unsigned long long)r1.objects, (unsigned long long)r2.objects,
                (unsigned long long)r1.bad_lines, (unsigned long long)r2.bad_lines,
                (unsigned long long)r1.lines, (unsigned long long)r2.lines);
    MT_EQ_INT(rc2, rc1);
    MT_EQ_INT(e2.code, e1.code);
    MT_EQ_INT(e2.line, e1.line);
    MT_EQ_INT(e2.column, e1.column);
    MT_EQ_INT(e2.byte_offset, e1.byte_offset);
    MT_EQ_STR(e2.detail, e1.detail);
    MT_EQ_INT(r2.lines, r1.lines);
    MT_EQ_INT(r2.objects, r1.objects);
    MT_EQ_INT(r2.bad_lines, r1.bad_lines);
    MT_EQ_INT(r2.first_bad.code, r1.first_bad.code);
    MT_EQ_INT(r2.first_bad.line, r1.first_bad.line);
    MT_EQ_INT(r2.first_bad.column, r1.first_bad.column);
    MT_EQ_INT(r2.first_bad.byte_offset, r1.first_bad.byte_offset);
    MT_EQ_INT(r2.duplicates, r1.duplicates);
    MT_EQ_INT(r2.dangling_refs, r1.dangling_refs);
    MT_EQ_INT(r2.has_header, r1.has_header);
    MT_EQ_INT(r2.has_trailer, r1.has_trailer);
    MT_EQ_INT(r2.trailer_complete, r1.trailer_complete);
    MT_EQ_INT(r2.trailer_objects, r1.trailer_objects);
    MT_EQ_INT(r2.classic, r1.classic);
    MT_EQ_INT(r2.format_minor, r1.format_minor);
    MT_CHECK((g1 == NULL) == (g2 == NULL));
    if (g1 && g2) {
        uint32_t i;
        size_t k;
        MT_CHECK(graphs_equal(g1, g2));
        for (i = 0; i < mel_graph_count(g1); i++)
            if (mel_graph_kv_pairs(g1, i) != mel_graph_kv_pairs(g2, i))
                break;
        MT_EQ_INT(i, mel_graph_count(g1));
        MT_EQ_INT(mel_graph_type_count(g2), mel_graph_type_count(g1));
        MT_EQ_INT(mel_graph_root_count(g2), mel_graph_root_count(g1));
        for (k = 0; k < mel_graph_root_count(g1) && k < mel_graph_root_count(g2); k++)
            MT_EQ_INT(mel_graph_root_address(g2, k), mel_graph_root_address(g1, k));
    }
    mel_graph_free(g1);
    mel_graph_free(g2);
}

/* Writes a generated dump of n object lines: header with roots (unless
 * classic), types with qualnames (two classes named Foo in different
 * modules, the second defined late), escaped values, ints, bools, big
 * sizes and lens, kv pairs, duplicates across and within the halves,
 * dangling refs (dups: also duplicates), a trailer.  extra (may be NULL) replaces line at_line
 * (1-based, counting the header) when at_line > 0. */
static size_t gen_dump(char *buf, size_t cap, unsigned n, int classic, unsigned at_line,
                       const char *extra, int final_newline, int dups)
{
    size_t w = 0;
    unsigned i, line = 1;
    uint64_t x = 88172645463325252ull;

#define GEN(...) (w += (size_t)snprintf(buf + w, w < cap ? cap - w : 0, __VA_ARGS__))
    if (classic) {
        GEN("[\n");
    } else if (at_line == 1 && extra) {
        GEN("%s\n", extra);
    } else {
        GEN("{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 3], "
            "\"roots\": [{\"kind\": \"modules\", \"name\": \"sys.modules\", \"address\": 1007}, "
            "{\"kind\": \"thread\", \"address\": 99999}]}\n");
    }
    for (i = 0; i < n; i++) {
        uint64_t addr = 1000 + i, r;
        unsigned k, nr;
        line++;
        if (line == at_line && extra) {
            GEN("%s\n", extra);
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r = x;
        if (dups && (i == n / 2 + 3 || i == n - 5))
            addr = 1000 + (r % (n / 4)); /* duplicates: across the halves, and late */
        if (i == 0 || i == n / 2 + 10) {
            GEN("{\"address\": %llu, \"type\": \"type\", \"size\": 900, \"name\": \"Foo\", "
                "\"qualname\": \"%s.Foo\", \"refs\": []}%s\n", (unsigned long long)addr,
                i ? "late" : "early", classic ? "," : "");
            continue;
        }
        GEN("{\"address\": %llu, \"type\": ", (unsigned long long)addr);
        switch (r % 7) {
        case 0: GEN("\"str\", \"size\": %llu, \"len\": 5, \"value\": \"a\\\"\\u00e9\\n%u\"",
                    (unsigned long long)(r % 90), i); break;
        case 1: GEN("\"int\", \"size\": 28, \"value\": -%llu", (unsigned long long)(r % 100000)); break;
        case 2: GEN("\"bool\", \"size\": 24, \"value\": \"%s\"", r & 8 ? "True" : "False"); break;
        case 3: GEN("\"Foo\", \"size\": 5000000000, \"type_addr\": %u, \"kv\": 1",
                    i < n / 2 ? 1000 : 1000 + n / 2 + 10); break;
        case 4: GEN("\"list\", \"size\": 72, \"len\": 8589934592"); break;
        case 5: GEN("\"function\", \"size\": 120, \"name\": \"f%u\", \"static\": true", i); break;
        default: GEN("\"caf\\u00e9\", \"size\": 16"); break;
        }
        nr = (unsigned)(r >> 20) % 6 + 2;
        GEN(", \"refs\": [");
        for (k = 0; k < nr; k++) {
            /* dangling: some addresses only in the first half, some only in the second */
            uint64_t t = (r >> (8 + k * 5)) % 97 == 0 ? 5000000 + (i < n / 2 ? 0 : 100) + k
                                                      : 1000 + ((r >> k) % n);
            GEN(k ? ", %llu" : "%llu", (unsigned long long)t);
        }
        GEN("]}%s\n", classic ? "," : "");
    }
    if (classic)
        GEN("]\n");
    else
        GEN("{\"meliae\": \"end\", \"objects\": %u, \"complete\": true}\n", n);
    if (!final_newline && w > 0 && w < cap)
        w--;
#undef GEN
    return w < cap ? w : cap;
}

/* Object lines parsed in place (the parser finds the line's end itself)
 * against the same lines carried between feeds (cut first at '\n'): the
 * same graph, report and errors, on generated dumps with bad lines and on
 * lines written to probe the line's end. */
static void check_open_vs_carried(const char *what, const char *text, size_t len, int strict)
{
    mel_graph *g1 = NULL, *g2 = NULL;
    mel_load_report r1, r2;
    mel_error e1, e2;
    int rc1, rc2;

    memset(&r1, 0, sizeof r1);
    memset(&r2, 0, sizeof r2);
    rc1 = load_str(text, len, strict, 0, 0, &g1, &r1, &e1);
    rc2 = load_str(text, len, strict, 7, 0, &g2, &r2, &e2); /* every line carried */
    if (rc1 != rc2 || e1.line != e2.line || e1.column != e2.column || r1.objects != r2.objects ||
        r1.bad_lines != r2.bad_lines || r1.first_bad.column != r2.first_bad.column)
        fprintf(stderr, "  open/carried '%s' strict=%d: rc %d/%d line %llu/%llu col %llu/%llu "
                "objects %llu/%llu bad %llu/%llu first bad col %llu/%llu\n", what, strict, rc1, rc2,
                (unsigned long long)e1.line, (unsigned long long)e2.line,
                (unsigned long long)e1.column, (unsigned long long)e2.column,
                (unsigned long long)r1.objects, (unsigned long long)r2.objects,
                (unsigned long long)r1.bad_lines, (unsigned long long)r2.bad_lines,
                (unsigned long long)r1.first_bad.column, (unsigned long long)r2.first_bad.column);
    MT_EQ_INT(rc1, rc2);
    MT_EQ_INT(e1.code, e2.code);
    MT_EQ_INT(e1.line, e2.line);
    MT_EQ_INT(e1.column, e2.column);
    MT_EQ_INT(e1.byte_offset, e2.byte_offset);
    MT_EQ_STR(e1.detail, e2.detail);
    MT_EQ_INT(r1.lines, r2.lines);
    MT_EQ_INT(r1.objects, r2.objects);
    MT_EQ_INT(r1.bad_lines, r2.bad_lines);
    MT_EQ_INT(r1.first_bad.code, r2.first_bad.code);
    MT_EQ_INT(r1.first_bad.line, r2.first_bad.line);
    MT_EQ_INT(r1.first_bad.column, r2.first_bad.column);
    MT_EQ_INT(r1.first_bad.byte_offset, r2.first_bad.byte_offset);
    MT_EQ_STR(r1.first_bad.detail, r2.first_bad.detail);
    MT_EQ_INT(r1.duplicates, r2.duplicates);
    MT_EQ_INT(r1.dangling_refs, r2.dangling_refs);
    MT_EQ_INT(r1.has_trailer, r2.has_trailer);
    MT_CHECK((g1 == NULL) == (g2 == NULL));
    if (g1 && g2)
        MT_CHECK(graphs_equal(g1, g2));
    mel_graph_free(g1);
    mel_graph_free(g2);
}

static void test_open_lines(void)
{
    static const char *bad[] = {
        "{\"address\": 3, \"type\": \"int\", \"size\": 1, \"refs\": []} x",
        "{\"address\": 3, \"type\": \"int\", \"size\": 1, \"refs\": [1, 2",
        "{\"address\": 3, \"type\": \"int\", \"size\": 1, \"value\": \"abc",
        "{\"address\": 3, \"type\": \"int\", \"size\": 12",
        "{\"address\": 3, \"type\": \"int\", \"size\": 1, \"refs\": []",
        "{\"address\": 3, \"type\": \"int\", \"size\": 1, \"refs\": []}}",
        "{\"address\": 3, \"type\": \"int\", \"size\": 1, \"x\": {\"a\": [1, {\"b\": 2}",
        "{\"address\": 3, \"type\": \"int\", \"size\": 1, \"value\": tru",
        "{\"address\": 3, \"type\": \"in\\u00",
        "{\"address\": 3,",
        "{",
        "{}",
    };
    static const char TRICKY[] =
        "{\"address\": 1, \"type\": \"int\", \"size\": 28, \"value\": 5, \"refs\": []}\r\n"
        "{\"address\": 2, \"type\": \"str\", \"size\": 50, \"value\": \"a\\nb\\\"}\", \"refs\": [1]},\n"
        "{ \"refs\" : [ 1 , 2 ] , \"size\" : 7 , \"type\" : \"t\" , \"address\" : 3 }  \t\n"
        "{\"address\": 4, \"type\": \"X\", \"size\": 1, \"other\": {\"n\": [1, 2.5e3, null, true]}, "
        "\"value\": null, \"refs\": []}\n"
        "{\"addr\\u0065ss\": 5, \"type\": \"bool\", \"size\": 24, \"value\": \"True\"}\n"
        "{\"address\": 6, \"type\": \"float\", \"size\": 24, \"value\": 1e400, \"refs\": [6]}\n"
        "{\"address\": 7, \"type\": \"list\", \"size\": 64, \"len\": 0, \"refs\": []}";
    char *buf;
    size_t cap = 4 << 20, len, k;
    int strict;

    buf = malloc(cap);
    MT_CHECK(buf != NULL);
    if (!buf)
        return;
    for (strict = 0; strict <= 1; strict++) {
        len = gen_dump(buf, cap, 3000, 0, 0, NULL, 1, 1);
        check_open_vs_carried("generated", buf, len, strict);
        len = gen_dump(buf, cap, 3000, 0, 0, NULL, 0, 0);
        check_open_vs_carried("no final newline", buf, len, strict);
        check_open_vs_carried("tricky", TRICKY, sizeof TRICKY - 1, strict);
        for (k = 0; k < sizeof bad / sizeof *bad; k++) {
            char what[32];
            snprintf(what, sizeof what, "bad %zu", k);
            len = gen_dump(buf, cap, 300, 0, 150, bad[k], 1, 0);
            check_open_vs_carried(what, buf, len, strict);
            len = strlen(bad[k]); /* alone, without a newline */
            check_open_vs_carried(what, bad[k], len, strict);
        }
    }
    free(buf);
}

static void test_split_load(void)
{
    static const char *bad[] = {
        "not json",
        "{\"address\": 3, \"type\": \"int\", \"size\": -1, \"refs\": []}",
        "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0]}",
        "{\"meliae\": \"end\", \"objects\": 1, \"complete\": false}",
        "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [9, 0]}",
        "{\"address\": 3, \"type\": \"Foo\", \"size\": 1, \"kv\": 5, \"refs\": [1]}",
        "",
        "[",
    };
    char path[] = "/tmp/mel_test_split_XXXXXX";
    size_t cap = 4 << 20, len, k;
    char *buf = malloc(cap);
    unsigned n = 3000, where[] = {1, 2, 40, 1499, 1502, 2900, 3001, 3002};
    int fd = mkstemp(path), strict;

    MT_CHECK(fd >= 0 && buf != NULL);
    if (fd < 0 || !buf) {
        free(buf);
        return;
    }
    close(fd);
    for (strict = 0; strict <= 1; strict++) {
        len = gen_dump(buf, cap, n, 0, 0, NULL, 1, 1);
        MT_CHECK(len < cap);
        write_file(path, buf, len);
        check_split_same("generated", path, strict);
        len = gen_dump(buf, cap, n, 0, 0, NULL, 0, 1);
        write_file(path, buf, len);
        check_split_same("no final newline", path, strict);
        len = gen_dump(buf, cap, n, 1, 0, NULL, 1, 1);
        write_file(path, buf, len);
        check_split_same("classic", path, strict);
        for (k = 0; k < sizeof bad / sizeof *bad; k++) {
            size_t q;
            for (q = 0; q < sizeof where / sizeof *where; q++) {
                char what[64];
                len = gen_dump(buf, cap, n, 0, where[q], bad[k], 1, 1);
                write_file(path, buf, len);
                snprintf(what, sizeof what, "bad %zu at line %u", k, where[q]);
                check_split_same(what, path, strict);
            }
        }
        /* enough refs for the two-thread reference resolution */
        len = gen_dump(buf, cap, 20000, 0, 0, NULL, 1, 0);
        MT_CHECK(len < cap);
        write_file(path, buf, len);
        check_split_same("large", path, strict);
        len = gen_dump(buf, cap, 20000, 0, 0, NULL, 1, 1);
        write_file(path, buf, len);
        check_split_same("large with duplicates", path, strict);
        len = gen_dump(buf, cap, 20000, 0, 15000, bad[0], 1, 0);
        write_file(path, buf, len);
        check_split_same("large, bad line late", path, strict);
        if (!strict) {
            /* a second half large enough to be moved by two threads */
            size_t bcap = (size_t)40 << 20;
            char *big = malloc(bcap);
            MT_CHECK(big != NULL);
            if (big) {
                len = gen_dump(big, bcap, 150000, 0, 0, NULL, 1, 1);
                MT_CHECK(len < bcap);
                write_file(path, big, len);
                check_split_same("two-thread merge", path, strict);
                free(big);
            }
        }
        write_file(path, MIXED, sizeof MIXED - 1);
        check_split_same("mixed", path, strict);
        write_file(path, L1, sizeof L1 - 1);
        check_split_same("one line", path, strict);
        write_file(path, "", 0);
        check_split_same("empty", path, strict);
    }
    remove(path);
    free(buf);
}

/* Duplicate addresses in a dump large enough for the two-thread address
 * index: the first record of each address stays, against a direct
 * reference over the same lines. */
static void test_duplicates_large(void)
{
    enum { N = 300000, DISTINCT = 200000 };
    size_t cap = (size_t)N * 80, w = 0;
    char *text = malloc(cap);
    uint32_t *first = calloc(DISTINCT + 1, sizeof *first);
    uint64_t expect_dups = 0, bad = 0, x = 12345;
    mel_graph *g = NULL;
    mel_load_report rep;
    mel_error err;
    uint32_t i;
    int rc;

    MT_CHECK(text != NULL && first != NULL);
    if (!text || !first) {
        free(text);
        free(first);
        return;
    }
    for (i = 0; i < N; i++) {
        uint32_t a;
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        /* mostly fresh addresses, then repeats from anywhere before */
        a = i < DISTINCT * 3 / 4 ? i + 1 : 1 + (uint32_t)((x >> 33) % DISTINCT);
        if (first[a])
            expect_dups++;
        else
            first[a] = i + 1;
        w += (size_t)snprintf(text + w, cap - w,
                              "{\"address\": %u, \"type\": \"T\", \"size\": %u, \"refs\": [%u]}\n",
                              a, i, 1 + (uint32_t)((x >> 20) % DISTINCT));
    }
    rc = load_str(text, w, 0, 1 << 20, 0, &g, &rep, &err);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.duplicates, expect_dups);
    if (g) {
        uint32_t a;
        for (a = 1; a <= DISTINCT; a++) {
            uint32_t node = mel_graph_lookup(g, a);
            if (first[a] == 0 ? node != MEL_NONE
                              : node == MEL_NONE || mel_graph_size(g, node) != first[a] - 1)
                bad++;
        }
        MT_EQ_INT(bad, 0);
        mel_graph_free(g);
    }
    free(text);
    free(first);
}

static void test_pipe(void)
{
    int fds[2];
    pid_t pid;
    mel_graph *g;
    mel_load_report rep;
    mel_error err;
    int rc, status;

    MT_EQ_INT(pipe(fds), 0);
    pid = fork();
    if (pid == 0) {
        size_t k;
        close(fds[0]);
        for (k = 0; k < sizeof MIXED - 1; k += 10) {
            size_t n = sizeof MIXED - 1 - k < 10 ? sizeof MIXED - 1 - k : 10;
            if (write(fds[1], MIXED + k, n) != (ssize_t)n)
                _exit(1);
        }
        _exit(0);
    }
    close(fds[1]);
    rc = mel_load_fd(fds[0], NULL, &g, &rep, &err);
    close(fds[0]);
    waitpid(pid, &status, 0);
    MT_EQ_INT(rc, MEL_OK);
    MT_EQ_INT(rep.objects, 5);
    MT_EQ_INT(rep.has_trailer, 1);
    mel_graph_free(g);
}

typedef struct prog_ctx {
    int calls;
    int cancel_at;
    uint64_t last_lines;
} prog_ctx;

static int prog_cb(void *ctx, const mel_progress *p)
{
    prog_ctx *c = ctx;
    c->calls++;
    c->last_lines = p->lines;
    return c->cancel_at && c->calls >= c->cancel_at;
}

static void test_progress_and_cancel(void)
{
    mel_load_options o;
    mel_loader *l;
    mel_graph *g, *g2 = NULL;
    mel_load_report rep;
    mel_error err;
    prog_ctx pc;
    int k, rc = MEL_OK;

    memset(&o, 0, sizeof o);
    memset(&pc, 0, sizeof pc);
    o.progress = prog_cb;
    o.progress_ctx = &pc;
    o.progress_every = 10;
    MT_EQ_INT(mel_loader_new(&o, &l), MEL_OK);
    for (k = 0; k < 100; k++) {
        char line[128];
        snprintf(line, sizeof line, "{\"address\": %d, \"type\": \"int\", \"size\": 12}\n", k + 1);
        MT_EQ_INT(mel_loader_feed(l, line, strlen(line), &err), MEL_OK);
    }
    MT_EQ_INT(mel_loader_finish(l, &g, &rep, &err), MEL_OK);
    /* a finished loader refuses more input */
    MT_EQ_INT(mel_loader_feed(l, "x\n", 2, &err), MEL_EINVAL);
    MT_EQ_INT(mel_loader_finish(l, &g2, &rep, &err), MEL_EINVAL);
    MT_CHECK(g2 == NULL);
    mel_loader_free(l);
    MT_EQ_INT(pc.calls, 11); /* lines 10, 20, ... 100, then indexing */
    mel_graph_free(g);

    pc.calls = 0;
    pc.cancel_at = 3;
    MT_EQ_INT(mel_loader_new(&o, &l), MEL_OK);
    for (k = 0; k < 100 && rc == MEL_OK; k++) {
        char line[128];
        snprintf(line, sizeof line, "{\"address\": %d, \"type\": \"int\", \"size\": 12}\n", k + 1);
        rc = mel_loader_feed(l, line, strlen(line), &err);
    }
    MT_EQ_INT(rc, MEL_ECANCELED);
    MT_EQ_INT(k, 30);
    MT_EQ_INT(mel_loader_finish(l, &g, &rep, &err), MEL_ECANCELED);
    MT_CHECK(g == NULL);
    mel_loader_free(l);
}

static void test_oom_injection(void)
{
    uint64_t k;
    int saw_ok = 0, saw_oom = 0;

    for (k = 1; k <= 400 && !saw_ok; k++) {
        mel_failing_allocator fa;
        mel_load_options o;
        mel_loader *l = NULL;
        mel_graph *g = NULL;
        mel_load_report rep;
        mel_error err;
        int rc;
        size_t p;

        mel_failing_allocator_init(&fa, k);
        memset(&o, 0, sizeof o);
        o.alloc = &fa.base;
        rc = mel_loader_new(&o, &l);
        for (p = 0; rc == MEL_OK && p < sizeof MIXED - 1; p += 17)
            rc = mel_loader_feed(l, MIXED + p, sizeof MIXED - 1 - p < 17 ? sizeof MIXED - 1 - p : 17,
                                 &err);
        if (rc == MEL_OK)
            rc = mel_loader_finish(l, &g, &rep, &err);
        mel_loader_free(l);
        if (rc == MEL_OK) {
            MT_EQ_INT(mel_graph_count(g), 5);
            saw_ok = 1;
            mel_graph_free(g);
        } else {
            MT_EQ_INT(rc, MEL_ENOMEM);
            MT_CHECK(g == NULL);
            saw_oom = 1;
        }
        MT_EQ_INT(fa.live, 0);
    }
    MT_CHECK(saw_ok);
    MT_CHECK(saw_oom);
}

int main(void)
{
    MT_RUN(test_malformed_table);
    MT_RUN(test_nul_bytes);
    MT_RUN(test_version_and_empty);
    MT_RUN(test_garbage_binary);
    MT_RUN(test_kv_large);
    MT_RUN(test_duplicates_and_dangling);
    MT_RUN(test_values);
    MT_RUN(test_header_trailer_roots);
    MT_RUN(test_classic_forms);
    MT_RUN(test_line_limit);
    MT_RUN(test_long_line);
    MT_RUN(test_chunking);
    MT_RUN(test_gzip_and_paths);
    MT_RUN(test_pipe);
    MT_RUN(test_open_lines);
    MT_RUN(test_split_load);
    MT_RUN(test_duplicates_large);
    MT_RUN(test_progress_and_cancel);
    MT_RUN(test_oom_injection);
    return MT_END();
}
