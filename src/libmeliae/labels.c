/*
 * labels.c - how one object refers to another, written the way Python code
 * would reach it: ['key'] for dict items, [3] for list and tuple items,
 * .name for attributes, .__dict__ for an instance's or module's dict; and
 * whole paths such as sys.modules['app'].__dict__['cache'][3].
 */
#include "analysis_internal.h"
#include "graph_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A bounded writer with the snprintf rule: counts every byte, stores what
 * fits, always NUL-terminates when cap > 0. */
typedef struct sbuf {
    char *p;
    size_t cap;
    size_t len;
} sbuf;

static void sb_putc(sbuf *b, char c)
{
    if (b->len + 1 < b->cap)
        b->p[b->len] = c;
    b->len++;
}

static void sb_puts(sbuf *b, const char *s, size_t n)
{
    for (size_t k = 0; k < n; k++)
        sb_putc(b, s[k]);
}

static void sb_printf(sbuf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void sb_printf(sbuf *b, const char *fmt, ...)
{
    char tmp[96];
    va_list ap;
    int k;

    va_start(ap, fmt);
    k = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (k > 0)
        sb_puts(b, tmp, (size_t)k < sizeof tmp ? (size_t)k : sizeof tmp - 1);
}

static void sb_finish(sbuf *b)
{
    if (b->cap > 0)
        b->p[b->len < b->cap ? b->len : b->cap - 1] = '\0';
}

static const char *type_of(const struct mel_graph *g, uint32_t v, size_t *len)
{
    const char *s = mel_graph_type_name(g, g->type[v], len);
    if (!s) {
        *len = 1;
        return "?";
    }
    return s;
}

static int type_is(const struct mel_graph *g, uint32_t v, const char *name)
{
    size_t len, n = strlen(name);
    const char *s = type_of(g, v, &len);
    return len == n && memcmp(s, name, n) == 0;
}

/* <type at 0xADDR> */
static void sb_object(sbuf *b, const struct mel_graph *g, uint32_t v)
{
    size_t len;
    const char *t = type_of(g, v, &len);

    sb_putc(b, '<');
    sb_puts(b, t, len);
    sb_printf(b, " at 0x%" PRIx64 ">", g->addr[v]);
}

/* A str value in Python's repr style: single quotes, backslash escapes
 * for quotes, backslashes and control characters. */
static void sb_repr(sbuf *b, const char *s, size_t n)
{
    sb_putc(b, '\'');
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c == '\'' || c == '\\') {
            sb_putc(b, '\\');
            sb_putc(b, (char)c);
        } else if (c == '\n') {
            sb_puts(b, "\\n", 2);
        } else if (c == '\t') {
            sb_puts(b, "\\t", 2);
        } else if (c == '\r') {
            sb_puts(b, "\\r", 2);
        } else if (c < 0x20 || c == 0x7f) {
            sb_printf(b, "\\x%02x", c);
        } else {
            sb_putc(b, (char)c);
        }
    }
    sb_putc(b, '\'');
}

/* The key as written between brackets: 'text', an int, or <type at 0x..>. */
static void sb_key(sbuf *b, const struct mel_graph *g, uint32_t key)
{
    mel_value val;

    mel_graph_value(g, key, &val);
    if (val.kind == MEL_VALUE_TEXT && !val.is_name && type_is(g, key, "str"))
        sb_repr(b, val.text, val.text_len);
    else if (val.kind == MEL_VALUE_INT && type_is(g, key, "int"))
        sb_printf(b, "%" PRId64, val.i);
    else
        sb_object(b, g, key);
}

/* A str key usable as an attribute name: a text value, no spaces or
 * punctuation that would make ".name" misleading. */
static int attr_name(const struct mel_graph *g, uint32_t key, const char **s, size_t *n)
{
    mel_value val;

    mel_graph_value(g, key, &val);
    if (val.kind != MEL_VALUE_TEXT || !type_is(g, key, "str") || val.text_len == 0)
        return 0;
    for (size_t k = 0; k < val.text_len; k++) {
        unsigned char c = (unsigned char)val.text[k];
        if (!(c == '_' || c >= 0x80 || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
              (c >= 'A' && c <= 'Z')))
            return 0;
    }
    *s = val.text;
    *n = val.text_len;
    return 1;
}

/* Writes the label of parent -> child into b; returns 1 when it is the
 * unknown label "->". */
static int label(sbuf *b, const struct mel_graph *g, uint32_t parent, uint32_t child)
{
    uint32_t nch, j, kv;
    const uint32_t *ch;
    int64_t len;

    ch = mel__children(g, parent, &nch);
    for (j = 0; j < nch && ch[j] != child; j++)
        ;
    if (j == nch) {
        sb_puts(b, "->", 2);
        return 1;
    }
    if (type_is(g, parent, "dict")) {
        /* key, value pairs: unless a classic dump listed only values */
        len = mel_graph_len(g, parent);
        if (nch % 2 == 0 && (len < 0 || (uint64_t)len * 2 == nch)) {
            if (j % 2 == 1) {
                sb_putc(b, '[');
                sb_key(b, g, ch[j - 1]);
                sb_putc(b, ']');
                return 0;
            }
            /* the child is a key of the dict */
            sb_puts(b, ".keys()", 7);
            return 0;
        }
        sb_puts(b, "->", 2);
        return 1;
    }
    kv = mel_graph_kv_pairs(g, parent);
    if (kv > 0 && (uint64_t)j < 2 * (uint64_t)kv && (uint64_t)2 * kv <= nch) {
        const char *s;
        size_t n;
        if (j % 2 == 1 && attr_name(g, ch[j - 1], &s, &n)) {
            sb_putc(b, '.');
            sb_puts(b, s, n);
            return 0;
        }
        if (j % 2 == 1) {
            sb_puts(b, ".__dict__[", 10);
            sb_key(b, g, ch[j - 1]);
            sb_putc(b, ']');
            return 0;
        }
        sb_puts(b, "->", 2);
        return 1;
    }
    if (type_is(g, parent, "list") || type_is(g, parent, "tuple")) {
        sb_printf(b, "[%" PRIu32 "]", j);
        return 0;
    }
    if (type_is(g, child, "dict") &&
        !(type_is(g, parent, "set") || type_is(g, parent, "frozenset") ||
          type_is(g, parent, "function") || type_is(g, parent, "frame") ||
          type_is(g, parent, "cell") || type_is(g, parent, "<missing>"))) {
        /* a module's or instance's (or type's) namespace */
        sb_puts(b, ".__dict__", 9);
        return 0;
    }
    if (type_is(g, parent, "function") && type_is(g, child, "code")) {
        sb_puts(b, ".__code__", 9);
        return 0;
    }
    if (type_is(g, parent, "frame") && type_is(g, child, "code")) {
        sb_puts(b, ".f_code", 7);
        return 0;
    }
    if (type_is(g, parent, "cell")) {
        sb_puts(b, ".cell_contents", 14);
        return 0;
    }
    sb_puts(b, "->", 2);
    return 1;
}

size_t mel_edge_label(const mel_graph *g, uint32_t parent, uint32_t child, char *buf,
                      size_t cap)
{
    sbuf b = {buf, buf ? cap : 0, 0};

    if (!g || parent >= mel__nodes(g) || child >= mel__nodes(g))
        sb_puts(&b, "->", 2);
    else
        (void)label(&b, g, parent, child);
    sb_finish(&b);
    return b.len;
}

/* The first node of a path: its root marker's name, else the object. */
static void start_label(sbuf *b, const struct mel_graph *g, uint32_t v)
{
    for (size_t k = 0; k < g->nroots; k++) {
        const char *kind, *name;
        uint32_t node;
        if (mel_graph_root(g, k, &kind, &name, &node) == MEL_OK && node == v) {
            const char *s = name && *name ? name : kind;
            sb_puts(b, s, strlen(s));
            return;
        }
    }
    sb_object(b, g, v);
}

/* Renders the path into b. */
static void render(sbuf *b, const struct mel_graph *g, const uint32_t *path, size_t n)
{
    if (n == 0) {
        sb_puts(b, "<roots>", 7);
        return;
    }
    start_label(b, g, path[0]);
    for (size_t k = 1; k < n; k++) {
        if (label(b, g, path[k - 1], path[k]))
            sb_object(b, g, path[k]);
    }
}

int mel_path_format(const mel_graph *g, const uint32_t *path, size_t n, char **out)
{
    sbuf b = {NULL, 0, 0};
    char *s;

    if (!g || !out || (n && !path))
        return MEL_EINVAL;
    *out = NULL;
    for (size_t k = 0; k < n; k++)
        if (path[k] >= mel__nodes(g))
            return MEL_EINVAL;
    render(&b, g, path, n);
    s = malloc(b.len + 1);
    if (!s)
        return MEL_ENOMEM;
    b.p = s;
    b.cap = b.len + 1;
    b.len = 0;
    render(&b, g, path, n);
    sb_finish(&b);
    *out = s;
    return MEL_OK;
}
