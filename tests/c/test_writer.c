/*
 * test_writer.c - the dump writer: exact lines, escaping, truncation, sink
 * failures and allocation failures.  Expected strings are written by hand
 * from docs/format.md and the classic examples (meliae-compat.md 2.7).
 */
#include "meliae.h"
#include "mtest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* A growable in-memory sink that can fail once a byte budget is spent. */
typedef struct sink {
    char *data;
    size_t len, cap;
    size_t fail_after; /* fail any write that would pass this many bytes; 0 = never */
    int fail_errno;
    int calls;
} sink;

static int sink_write(void *ctx, const void *buf, size_t len)
{
    sink *s = ctx;

    s->calls++;
    if (s->fail_after && s->len + len > s->fail_after)
        return s->fail_errno;
    if (s->len + len + 1 > s->cap) {
        size_t ncap = (s->len + len + 1) * 2;
        char *p = realloc(s->data, ncap);
        if (!p)
            return ENOMEM;
        s->data = p;
        s->cap = ncap;
    }
    memcpy(s->data + s->len, buf, len);
    s->len += len;
    s->data[s->len] = '\0';
    return 0;
}

static void sink_init(sink *s)
{
    memset(s, 0, sizeof *s);
    s->fail_errno = ENOSPC;
}

static void sink_free(sink *s)
{
    free(s->data);
    memset(s, 0, sizeof *s);
}

static mel_object obj_init(uint64_t address, const char *type, uint64_t size)
{
    mel_object o;

    memset(&o, 0, sizeof o);
    o.address = address;
    o.type_name = type;
    o.size = size;
    o.len = -1;
    return o;
}

static mel_text text(const void *data, size_t len, int kind)
{
    mel_text t;

    t.data = data;
    t.len = len;
    t.kind = kind;
    return t;
}

/* Writes one object with the given options and returns the line (static). */
static const char *one_line(const mel_object *o, const mel_writer_options *opts)
{
    static char line[4096];
    mel_writer *w = NULL;
    sink s;

    sink_init(&s);
    line[0] = '\0';
    MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, opts, &w), MEL_OK);
    MT_EQ_INT(mel_writer_object(w, o), MEL_OK);
    MT_EQ_INT(mel_writer_flush(w), MEL_OK);
    if (s.data && s.len < sizeof line)
        memcpy(line, s.data, s.len + 1);
    mel_writer_free(w);
    sink_free(&s);
    return line;
}

static const char *escaped(const mel_text *t, size_t limit)
{
    static char buf[1024];
    size_t n = mel_json_escape(t, limit, buf, sizeof buf);
    MT_CHECK(n < sizeof buf);
    MT_EQ_INT(strlen(buf), n);
    return buf;
}

/* --- exact lines ------------------------------------------------------ */

static void test_classic_lines(void)
{
    mel_object o;
    uint64_t refs[] = {2, 3};
    uint64_t mod_refs[] = {2};

    o = obj_init(1, "tuple", 20);
    o.len = 2;
    o.refs = refs;
    o.nrefs = 2;
    MT_EQ_STR(one_line(&o, NULL),
              "{\"address\": 1, \"type\": \"tuple\", \"size\": 20, \"len\": 2, \"refs\": [2, 3]}\n");

    o = obj_init(5, "int", 12);
    o.value_kind = MEL_VALUE_INT;
    o.value_int = 1;
    MT_EQ_STR(one_line(&o, NULL),
              "{\"address\": 5, \"type\": \"int\", \"size\": 12, \"value\": 1, \"refs\": []}\n");

    o = obj_init(6, "str", 29);
    o.len = 5;
    o.value_kind = MEL_VALUE_TEXT;
    o.value = text("a str", 5, MEL_TEXT_LATIN1);
    MT_EQ_STR(one_line(&o, NULL), "{\"address\": 6, \"type\": \"str\", \"size\": 29, \"len\": 5, "
                                  "\"value\": \"a str\", \"refs\": []}\n");

    o = obj_init(8, "module", 60);
    o.name = text("mymod", 5, MEL_TEXT_UTF8);
    o.refs = mod_refs;
    o.nrefs = 1;
    MT_EQ_STR(one_line(&o, NULL), "{\"address\": 8, \"type\": \"module\", \"size\": 60, "
                                  "\"name\": \"mymod\", \"refs\": [2]}\n");

    o = obj_init(139993820642016u, "bool", 24);
    o.value_kind = MEL_VALUE_BOOL;
    o.value_int = 1;
    MT_EQ_STR(one_line(&o, NULL), "{\"address\": 139993820642016, \"type\": \"bool\", \"size\": 24, "
                                  "\"value\": \"True\", \"refs\": []}\n");
    o.value_int = 0;
    MT_EQ_STR(one_line(&o, NULL), "{\"address\": 139993820642016, \"type\": \"bool\", \"size\": 24, "
                                  "\"value\": \"False\", \"refs\": []}\n");
}

static void test_new_keys_and_order(void)
{
    mel_object o;
    uint64_t refs[] = {140301, 140233, 140302, 140303, 93920};

    /* Format example: an instance with managed values. */
    o = obj_init(140240, "Foo", 88);
    o.type_address = 93920;
    o.refs = refs;
    o.nrefs = 5;
    o.kv_pairs = 2;
    MT_EQ_STR(one_line(&o, NULL),
              "{\"address\": 140240, \"type\": \"Foo\", \"size\": 88, \"type_addr\": 93920, "
              "\"kv\": 2, \"refs\": [140301, 140233, 140302, 140303, 93920]}\n");

    /* A static type: name, qualname, type_addr, static, in that order. */
    o = obj_init(93800, "type", 416);
    o.name = text("type", 4, MEL_TEXT_UTF8);
    o.qualname = text("builtins.type", 13, MEL_TEXT_UTF8);
    o.type_address = 93800;
    o.flags = MEL_OBJ_STATIC;
    MT_EQ_STR(one_line(&o, NULL),
              "{\"address\": 93800, \"type\": \"type\", \"size\": 416, \"name\": \"type\", "
              "\"qualname\": \"builtins.type\", \"type_addr\": 93800, \"static\": true, "
              "\"refs\": []}\n");

    /* A frame: the code name as a text value; len before value. */
    o = obj_init(7, "frame", 200);
    o.value_kind = MEL_VALUE_TEXT;
    o.value = text("<module>", 8, MEL_TEXT_LATIN1);
    MT_EQ_STR(one_line(&o, NULL), "{\"address\": 7, \"type\": \"frame\", \"size\": 200, "
                                  "\"value\": \"<module>\", \"refs\": []}\n");

    o = obj_init(9, "str", 41);
    o.len = 0;
    o.value_kind = MEL_VALUE_NULL;
    MT_EQ_STR(one_line(&o, NULL), "{\"address\": 9, \"type\": \"str\", \"size\": 41, \"len\": 0, "
                                  "\"value\": null, \"refs\": []}\n");

    /* Extremes of the number formatter. */
    o = obj_init(UINT64_MAX, "int", 0);
    o.value_kind = MEL_VALUE_INT;
    o.value_int = INT64_MIN;
    MT_EQ_STR(one_line(&o, NULL),
              "{\"address\": 18446744073709551615, \"type\": \"int\", \"size\": 0, "
              "\"value\": -9223372036854775808, \"refs\": []}\n");
    o.value_int = 9;
    o.address = 10;
    MT_EQ_STR(one_line(&o, NULL),
              "{\"address\": 10, \"type\": \"int\", \"size\": 0, \"value\": 9, \"refs\": []}\n");
    o.value_int = -100;
    o.address = 99;
    MT_EQ_STR(one_line(&o, NULL),
              "{\"address\": 99, \"type\": \"int\", \"size\": 0, \"value\": -100, \"refs\": []}\n");
}

static void test_header_trailer(void)
{
    mel_writer *w = NULL;
    mel_dump_header h;
    mel_root roots[2];
    const char *argv[] = {"app.py", "--x"};
    sink s;
    mel_object o = obj_init(1, "object", 16);

    memset(&h, 0, sizeof h);
    h.python_version = "3.11.7";
    h.implementation = "CPython";
    h.pointer_size = 8;
    h.gc_head_size = 16;
    h.pid = 4242;
    h.time = 1795000000.25;
    h.argv = argv;
    h.argc = 2;
    h.entry_point = "dump_all_objects";
    roots[0].kind = "modules";
    roots[0].name = "sys.modules";
    roots[0].address = 140001;
    roots[1].kind = "thread";
    roots[1].name = "thread 1401 MainThread";
    roots[1].address = 140002;
    h.roots = roots;
    h.nroots = 2;

    sink_init(&s);
    MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, NULL, &w), MEL_OK);
    MT_EQ_INT(mel_writer_header(w, &h), MEL_OK);
    MT_EQ_INT(mel_writer_header(w, &h), MEL_EINVAL);
    MT_EQ_INT(mel_writer_object(w, &o), MEL_OK);
    MT_EQ_INT(mel_writer_object(w, &o), MEL_OK);
    MT_EQ_INT(mel_writer_count(w), 2);
    MT_EQ_INT(s.len, 0); /* still buffered */
    MT_EQ_INT(mel_writer_trailer(w), MEL_OK);
    MT_EQ_STR(s.data,
              "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], "
              "\"python\": \"3.11.7\", \"implementation\": \"CPython\", \"pointer_size\": 8, "
              "\"gc_head_size\": 16, \"pid\": 4242, \"time\": 1795000000.250000, "
              "\"argv\": [\"app.py\", \"--x\"], \"entry\": \"dump_all_objects\", "
              "\"value_limit\": 100, \"values\": true, \"roots\": [{\"kind\": \"modules\", "
              "\"name\": \"sys.modules\", \"address\": 140001}, {\"kind\": \"thread\", "
              "\"name\": \"thread 1401 MainThread\", \"address\": 140002}]}\n"
              "{\"address\": 1, \"type\": \"object\", \"size\": 16, \"refs\": []}\n"
              "{\"address\": 1, \"type\": \"object\", \"size\": 16, \"refs\": []}\n"
              "{\"meliae\": \"end\", \"objects\": 2, \"complete\": true}\n");
    mel_writer_free(w);
    sink_free(&s);

    /* Redacted, unlimited, incomplete. */
    {
        mel_writer_options opts;
        memset(&opts, 0, sizeof opts);
        opts.omit_values = 1;
        opts.value_limit = SIZE_MAX;
        memset(&h, 0, sizeof h);
        h.entry_point = "dump_gc_objects";
        sink_init(&s);
        MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, &opts, &w), MEL_OK);
        MT_EQ_INT(mel_writer_header(w, &h), MEL_OK);
        mel_writer_mark_incomplete(w);
        MT_EQ_INT(mel_writer_trailer(w), MEL_OK);
        MT_EQ_STR(s.data,
                  "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], "
                  "\"python\": \"\", \"implementation\": \"\", \"pointer_size\": 0, "
                  "\"gc_head_size\": 0, \"pid\": 0, \"time\": 0.000000, \"argv\": [], "
                  "\"entry\": \"dump_gc_objects\", \"value_limit\": null, \"values\": false, "
                  "\"roots\": []}\n"
                  "{\"meliae\": \"end\", \"objects\": 0, \"complete\": false}\n");
        mel_writer_free(w);
        sink_free(&s);
    }

    /* A header after an object is refused. */
    sink_init(&s);
    MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, NULL, &w), MEL_OK);
    MT_EQ_INT(mel_writer_object(w, &o), MEL_OK);
    MT_EQ_INT(mel_writer_header(w, &h), MEL_EINVAL);
    mel_writer_free(w);
    sink_free(&s);
}

/* --- escaping ------------------------------------------------------- */

static void test_escape_table(void)
{
    static const char latin1[] = "a \"q\" \\ / \0\xff\n";
    static const uint16_t ucs2[] = {'u', 'n', 'i', ' ', 0xb5, ' ', 0x20ac, ' ', 0xd800, 0xdfff};
    static const uint32_t ucs4[] = {'x', 0x1f600, 0x12345, 0xdc00, 0x1f, 0x7f};
    /* U+20AC, U+1F600, an invalid byte, a truncated sequence, an overlong '/' */
    static const char utf8[] = "\xe2\x82\xac\xf0\x9f\x98\x80\xff\xe2\x82\xc0\xaf";
    /* WTF-8 encoded lone surrogate U+D83D */
    static const char wtf8[] = "\xed\xa0\xbd";
    mel_text t;

    t = text("", 0, MEL_TEXT_LATIN1);
    MT_EQ_STR(escaped(&t, 0), "\"\"");
    t = text("foo", 3, MEL_TEXT_LATIN1);
    MT_EQ_STR(escaped(&t, 0), "\"foo\"");
    t = text("\\x/y\"", 5, MEL_TEXT_LATIN1);
    MT_EQ_STR(escaped(&t, 0), "\"\\\\x\\/y\\\"\"");
    t = text("\x00\x01\x02\x1f", 4, MEL_TEXT_LATIN1);
    MT_EQ_STR(escaped(&t, 0), "\"\\u0000\\u0001\\u0002\\u001f\"");
    t = text(latin1, sizeof latin1 - 1, MEL_TEXT_LATIN1);
    MT_EQ_STR(escaped(&t, 0), "\"a \\\"q\\\" \\\\ \\/ \\u0000\\u00ff\\u000a\"");
    t = text(latin1, sizeof latin1 - 1, MEL_TEXT_BYTES);
    MT_EQ_STR(escaped(&t, 0), "\"a \\\"q\\\" \\\\ \\/ \\u0000\\u00ff\\u000a\"");
    t = text(ucs2, 10, MEL_TEXT_UCS2);
    MT_EQ_STR(escaped(&t, 0), "\"uni \\u00b5 \\u20ac \\ud800\\udfff\"");
    t = text(ucs4, 6, MEL_TEXT_UCS4);
    MT_EQ_STR(escaped(&t, 0), "\"x\\ud83d\\ude00\\ud808\\udf45\\udc00\\u001f\\u007f\"");
    t = text(utf8, sizeof utf8 - 1, MEL_TEXT_UTF8);
    MT_EQ_STR(escaped(&t, 0),
              "\"\\u20ac\\ud83d\\ude00\\u00ff\\u00e2\\u0082\\u00c0\\u00af\"");
    t = text(wtf8, 3, MEL_TEXT_UTF8);
    MT_EQ_STR(escaped(&t, 0), "\"\\ud83d\"");
    t = text("\xc3\x91" "ame", 5, MEL_TEXT_UTF8);
    MT_EQ_STR(escaped(&t, 0), "\"\\u00d1ame\"");
    MT_EQ_STR(escaped(NULL, 0), "\"\"");
}

static void test_escape_limits(void)
{
    static const uint32_t emoji[3] = {0x1f600, 0x1f600, 0x1f600};
    char small[8];
    mel_text t;
    size_t n;

    t = text("abcdef", 6, MEL_TEXT_LATIN1);
    MT_EQ_STR(escaped(&t, 3), "\"abc\"");
    MT_EQ_STR(escaped(&t, 6), "\"abcdef\"");
    MT_EQ_STR(escaped(&t, 100), "\"abcdef\"");
    t = text(emoji, 3, MEL_TEXT_UCS4);
    MT_EQ_STR(escaped(&t, 1), "\"\\ud83d\\ude00\"");
    /* A UTF-8 limit counts code points, not bytes. */
    t = text("\xe2\x82\xac" "ab\xe2\x82\xac", 8, MEL_TEXT_UTF8);
    MT_EQ_STR(escaped(&t, 2), "\"\\u20aca\"");

    /* snprintf rule: result is the full length, the buffer holds a prefix. */
    t = text("abcdefghij", 10, MEL_TEXT_LATIN1);
    n = mel_json_escape(&t, 0, small, sizeof small);
    MT_EQ_INT(n, 12);
    MT_EQ_STR(small, "\"abcdef");
    MT_EQ_INT(mel_json_escape(&t, 0, NULL, 0), 12);
}

static void test_value_truncation_and_redaction(void)
{
    static char long_text[300];
    static uint16_t long_ucs2[150];
    mel_object o;
    mel_writer_options opts;
    char expect[512];
    size_t i;

    memset(long_text, 'x', sizeof long_text);
    o = obj_init(1, "str", 349);
    o.len = 300;
    o.value_kind = MEL_VALUE_TEXT;
    o.value = text(long_text, 300, MEL_TEXT_LATIN1);
    memset(expect, 0, sizeof expect);
    strcpy(expect, "{\"address\": 1, \"type\": \"str\", \"size\": 349, \"len\": 300, \"value\": \"");
    memset(expect + strlen(expect), 'x', 100);
    strcat(expect, "\", \"refs\": []}\n");
    MT_EQ_STR(one_line(&o, NULL), expect);

    memset(&opts, 0, sizeof opts);
    opts.value_limit = 3;
    MT_EQ_STR(one_line(&o, &opts), "{\"address\": 1, \"type\": \"str\", \"size\": 349, "
                                   "\"len\": 300, \"value\": \"xxx\", \"refs\": []}\n");

    for (i = 0; i < 150; i++)
        long_ucs2[i] = 0x20ac;
    o.len = 150;
    o.value = text(long_ucs2, 150, MEL_TEXT_UCS2);
    opts.value_limit = 2;
    MT_EQ_STR(one_line(&o, &opts), "{\"address\": 1, \"type\": \"str\", \"size\": 349, "
                                   "\"len\": 150, \"value\": \"\\u20ac\\u20ac\", \"refs\": []}\n");

    /* Redacted: text, int and null values vanish, bools stay. */
    opts.value_limit = 0;
    opts.omit_values = 1;
    MT_EQ_STR(one_line(&o, &opts),
              "{\"address\": 1, \"type\": \"str\", \"size\": 349, \"len\": 150, \"refs\": []}\n");
    o = obj_init(2, "int", 32);
    o.value_kind = MEL_VALUE_INT;
    o.value_int = 12345;
    MT_EQ_STR(one_line(&o, &opts), "{\"address\": 2, \"type\": \"int\", \"size\": 32, \"refs\": []}\n");
    o.value_kind = MEL_VALUE_BOOL;
    o.value_int = 1;
    MT_EQ_STR(one_line(&o, &opts),
              "{\"address\": 2, \"type\": \"int\", \"size\": 32, \"value\": \"True\", \"refs\": []}\n");
    o = obj_init(3, "module", 72);
    o.name = text("secret_name_kept", 16, MEL_TEXT_UTF8);
    MT_EQ_STR(one_line(&o, &opts), "{\"address\": 3, \"type\": \"module\", \"size\": 72, "
                                   "\"name\": \"secret_name_kept\", \"refs\": []}\n");
}

/* A 1 MB string through a small buffer, unlimited: every byte arrives. */
static void test_megabyte_string(void)
{
    const size_t n = 1u << 20;
    char *big = malloc(n);
    mel_writer_options opts;
    mel_writer *w = NULL;
    mel_object o;
    sink s;
    size_t i, prefix;
    int ok = 1;

    MT_CHECK(big != NULL);
    if (!big)
        return;
    for (i = 0; i < n; i++)
        big[i] = (char)('a' + i % 26);
    big[n / 2] = '"';
    memset(&opts, 0, sizeof opts);
    opts.value_limit = SIZE_MAX;
    opts.buffer_size = 100;
    o = obj_init(1, "str", n + 41);
    o.len = (int64_t)n;
    o.value_kind = MEL_VALUE_TEXT;
    o.value = text(big, n, MEL_TEXT_LATIN1);
    sink_init(&s);
    MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, &opts, &w), MEL_OK);
    MT_EQ_INT(mel_writer_object(w, &o), MEL_OK);
    MT_EQ_INT(mel_writer_flush(w), MEL_OK);
    MT_CHECK(s.calls > 10000);
    prefix = strlen("{\"address\": 1, \"type\": \"str\", \"size\": 1048617, \"len\": 1048576, "
                    "\"value\": \"");
    MT_EQ_INT(s.len, prefix + n + 1 + strlen("\", \"refs\": []}\n"));
    for (i = 0; i < n && ok; i++) {
        char want = big[i];
        size_t at = prefix + i + (i > n / 2);
        if (i == n / 2)
            ok = s.data[at] == '\\' && s.data[at + 1] == '"';
        else
            ok = s.data[at] == want;
    }
    MT_CHECK(ok);
    mel_writer_free(w);
    sink_free(&s);
    free(big);
}

/* Many refs in one line cross many buffer boundaries. */
static void test_many_refs(void)
{
    enum { N = 5000 };
    static uint64_t refs[N];
    mel_writer_options opts;
    mel_writer *w = NULL;
    mel_object o = obj_init(1, "list", 40 + 8 * N);
    sink s;
    const char *p;
    size_t i;
    int ok = 1;

    for (i = 0; i < N; i++)
        refs[i] = 140000000000000u + i * 16;
    o.refs = refs;
    o.nrefs = N;
    o.len = N;
    memset(&opts, 0, sizeof opts);
    opts.buffer_size = 64;
    sink_init(&s);
    MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, &opts, &w), MEL_OK);
    MT_EQ_INT(mel_writer_object(w, &o), MEL_OK);
    MT_EQ_INT(mel_writer_trailer(w), MEL_OK);
    p = strstr(s.data, "\"refs\": [");
    MT_CHECK(p != NULL);
    if (p) {
        p += strlen("\"refs\": [");
        for (i = 0; i < N && ok; i++) {
            char *end;
            unsigned long long v = strtoull(p, &end, 10);
            ok = v == refs[i] && (*end == ',' || (i == N - 1 && *end == ']'));
            p = end + 2;
        }
        MT_CHECK(ok);
    }
    MT_EQ_INT(mel_writer_count(w), 1);
    mel_writer_free(w);
    sink_free(&s);
}

/* --- failures --------------------------------------------------------- */

static void test_sink_failure_sticky(void)
{
    static char value[200];
    size_t budget;

    memset(value, 'v', sizeof value);
    for (budget = 1; budget < 1200; budget += 37) {
        mel_writer_options opts;
        mel_writer *w = NULL;
        mel_object o = obj_init(140000000000000u, "str", 241);
        sink s;
        int i, rc = MEL_OK, failed_at = -1;

        o.len = 200;
        o.value_kind = MEL_VALUE_TEXT;
        o.value = text(value, 200, MEL_TEXT_LATIN1);
        memset(&opts, 0, sizeof opts);
        opts.buffer_size = 128;
        opts.value_limit = SIZE_MAX;
        sink_init(&s);
        s.fail_after = budget;
        MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, &opts, &w), MEL_OK);
        for (i = 0; i < 10; i++) {
            rc = mel_writer_object(w, &o);
            if (rc != MEL_OK && failed_at < 0)
                failed_at = i;
            if (failed_at >= 0)
                MT_EQ_INT(rc, MEL_EIO);
        }
        rc = mel_writer_trailer(w);
        /* 10 lines of ~260 bytes never fit in 1200 bytes. */
        MT_EQ_INT(rc, MEL_EIO);
        MT_EQ_INT(mel_writer_errno(w), ENOSPC);
        MT_EQ_INT(mel_writer_flush(w), MEL_EIO);
        MT_EQ_INT(mel_writer_object(w, &o), MEL_EIO);
        MT_CHECK(s.len <= budget);
        MT_CHECK(mel_writer_count(w) < 10);
        mel_writer_free(w);
        sink_free(&s);
    }
}

static void test_bad_arguments(void)
{
    mel_writer *w = NULL;
    mel_object o = obj_init(1, "x", 1);
    uint64_t refs[1] = {5};
    sink s;

    sink_init(&s);
    MT_EQ_INT(mel_writer_new(NULL, NULL, &s, NULL, &w), MEL_EINVAL);
    MT_CHECK(w == NULL);
    MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, NULL, NULL), MEL_EINVAL);
    MT_EQ_INT(mel_writer_new(NULL, sink_write, &s, NULL, &w), MEL_OK);
    o.nrefs = 1;
    MT_EQ_INT(mel_writer_object(w, &o), MEL_EINVAL);
    o.refs = refs;
    o.kv_pairs = 1;
    MT_EQ_INT(mel_writer_object(w, &o), MEL_EINVAL);
    MT_EQ_INT(mel_writer_object(w, NULL), MEL_EINVAL);
    MT_EQ_INT(mel_writer_header(w, NULL), MEL_EINVAL);
    MT_EQ_INT(mel_writer_count(w), 0);
    mel_writer_free(w);
    mel_writer_free(NULL);
    MT_EQ_INT(mel_writer_errno(NULL), 0);
    MT_EQ_INT(mel_writer_flush(NULL), MEL_EINVAL);
    sink_free(&s);
}

static void test_oom_injection(void)
{
    uint64_t k;
    int successes = 0;

    for (k = 1; k <= 6; k++) {
        mel_failing_allocator fa;
        mel_writer *w = NULL;
        sink s;
        int rc;

        mel_failing_allocator_init(&fa, k);
        sink_init(&s);
        rc = mel_writer_new(&fa.base, sink_write, &s, NULL, &w);
        if (k <= 2) {
            MT_EQ_INT(rc, MEL_ENOMEM);
            MT_CHECK(w == NULL);
        } else {
            mel_object o = obj_init(1, "x", 1);
            MT_EQ_INT(rc, MEL_OK);
            MT_EQ_INT(mel_writer_object(w, &o), MEL_OK);
            MT_EQ_INT(mel_writer_trailer(w), MEL_OK);
            successes++;
        }
        mel_writer_free(w);
        MT_EQ_INT(fa.live, 0);
        sink_free(&s);
    }
    MT_EQ_INT(successes, 4);
}

int main(void)
{
    MT_RUN(test_classic_lines);
    MT_RUN(test_new_keys_and_order);
    MT_RUN(test_header_trailer);
    MT_RUN(test_escape_table);
    MT_RUN(test_escape_limits);
    MT_RUN(test_value_truncation_and_redaction);
    MT_RUN(test_megabyte_string);
    MT_RUN(test_many_refs);
    MT_RUN(test_sink_failure_sticky);
    MT_RUN(test_bad_arguments);
    MT_RUN(test_oom_injection);
    return MT_END();
}
