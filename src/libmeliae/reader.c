/*
 * reader.c - the JSON-lines loader: splits the (decompressed) byte stream
 * into lines, parses each line with one hand-written single-pass parser
 * (any key order, unknown keys skipped, every JSON escape), appends records
 * to a graph under construction, and at the end resolves reference
 * addresses into dense node indexes (children CSR).
 *
 * Reads docs/format.md 2.x dumps (header, objects, trailer) and classic
 * Meliae dumps (no header; "[" / "]" lines and trailing commas; bools as
 * strings).  Decisions documented here:
 *   - A text "value" and a "name" share one slot; "value" wins if both.
 *   - An integer "value" outside int64, or a non-integer number, is dropped
 *     (kind MEL_VALUE_NONE), as classic Meliae omits huge ints.
 *   - "refs" may be absent (no children); "address", "type", "size" may not.
 *   - A duplicate address keeps the first record; later ones are counted.
 *   - Object lines after the trailer are bad lines.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "graph_internal.h"
#include "loader_internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 256
/* A merged load with at least this many refs resolves its two halves on
 * two threads. */
#define RESOLVE_THREAD_MIN ((uint64_t)1 << 16)
#define DEFAULT_MAX_LINE ((size_t)1 << 30)

/* A type as written in the dump: tp_name plus the type object's address. */
typedef struct rawtype {
    uint64_t name_off; /* into l->names, NUL-terminated */
    uint32_t name_len;
    uint32_t hnext;    /* bucket chain, MEL_NONE ends */
    uint64_t type_addr;
} rawtype;

/* A "qualname" seen on a record (type objects). */
typedef struct qualrec {
    uint32_t node;
    uint64_t off; /* into l->names */
    uint32_t len;
} qualrec;

/* A header root marker before resolution. */
typedef struct rawroot {
    uint64_t kind_off, name_off; /* into l->names; name_off UINT64_MAX = none */
    uint64_t address;
} rawroot;

struct mel_loader {
    mel_load_options opt;
    const mel_allocator *alloc;
    size_t max_line;
    uint64_t progress_every;
    struct mel_graph *g;       /* owned until finish hands it out */

    uint64_t *refs;            /* owned: raw ref addresses of all records */
    uint64_t nrefs, refs_cap;
    uint64_t *refs2;           /* owned: the raw refs of a merged second half,
                                  numbered after refs (NULL if none) */
    uint64_t nrefs2, refs2_cap;

    rawtype *rtypes;           /* owned */
    uint32_t nrtypes, rtypes_cap;
    uint32_t *rthash;          /* owned, [1 << rtbits] */
    uint32_t rtbits;
    mel__arena names;          /* owned: raw type names, qualnames, roots */
    uint32_t tcache[256];      /* recent raw types + 1 by (type_addr, name) hash, 0 empty */
    qualrec *quals;            /* owned */
    size_t nquals, quals_cap;
    rawroot *rroots;           /* owned */
    size_t nrroots, rroots_cap;

    char *carry;               /* owned: the partial line between feeds */
    size_t ncarry, carry_cap;
    int skipping;              /* inside a line longer than max_line */
    char *scratch;             /* owned: unescaped keys and short strings */
    size_t scratch_cap;
    char *tscratch;            /* owned: the unescaped "type" of the current line */
    size_t tscratch_cap;

    uint64_t line;             /* lines started */
    uint64_t offset;           /* stream offset of the next unread byte */
    uint64_t bytes_in, bytes_total;
    uint64_t next_progress;

    mel_load_report rep;
    int saw_object;
    int failed;                /* sticky failure code (0 = fine) */
    mel_error fail_err;
};

/* Per-line parse state. */
typedef struct lp {
    const char *s, *p, *e;     /* line start, cursor, end (no '\n') */
    mel_loader *l;
    mel_error *err;
    uint64_t line, line_off;
    int open_end;              /* e is the end of the buffer, not of the line:
                                  the object must be followed by '\n' */
} lp;

/* ---------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------- */

static int perr(lp *c, const char *at, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

static int perr(lp *c, const char *at, int code, const char *fmt, ...)
{
    mel_error *err = c->err;
    va_list ap;

    if (at > c->e)
        at = c->e;
    err->code = code;
    err->sys_errno = 0;
    err->msg = mel_strerror(code);
    err->line = c->line;
    err->column = (uint64_t)(at - c->s) + 1;
    err->byte_offset = c->line_off + (uint64_t)(at - c->s);
    err->detail[0] = '\0';
    va_start(ap, fmt);
    vsnprintf(err->detail, sizeof err->detail, fmt, ap);
    va_end(ap);
    if (c->l->opt.source_name) {
        size_t k = strlen(err->detail);
        if (k + 4 < sizeof err->detail)
            snprintf(err->detail + k, sizeof err->detail - k, " (%s)", c->l->opt.source_name);
    }
    return code;
}

static int oom(lp *c)
{
    return perr(c, c->p, MEL_ENOMEM, "out of memory");
}

/* ---------------------------------------------------------------------
 * Lexing
 * ------------------------------------------------------------------- */

static inline void skip_ws(lp *c)
{
    while (c->p < c->e && (*c->p == ' ' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

static inline int is_digit(char ch)
{
    return (unsigned)(ch - '0') < 10u;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* Length of the valid UTF-8 sequence at p (< e), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *e)
{
    unsigned c0 = p[0];
    size_t n, k;
    uint32_t cp;

    if (c0 < 0x80)
        return 1;
    if (c0 >= 0xc2 && c0 <= 0xdf)
        n = 2, cp = c0 & 0x1f;
    else if (c0 >= 0xe0 && c0 <= 0xef)
        n = 3, cp = c0 & 0x0f;
    else if (c0 >= 0xf0 && c0 <= 0xf4)
        n = 4, cp = c0 & 0x07;
    else
        return 0;
    if ((size_t)(e - p) < n)
        return 0;
    for (k = 1; k < n; k++) {
        if ((p[k] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[k] & 0x3f);
    }
    if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return n;
}

/* Nonzero if any byte of v is '"', '\\', < 0x20 or >= 0x80 (may also flag
 * bytes after a real hit; callers rescan bytewise). */
static inline uint64_t swar_special(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t q = v ^ (ones * '"'), b = v ^ (ones * '\\');
    uint64_t t = ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((b - ones) & ~b) | v;
    return t & high;
}

/* Scans the JSON string whose opening quote is at c->p.  On success c->p is
 * after the closing quote, *raw and *rawlen give the bytes between the quotes and
 * *esc is nonzero if they contain escapes.  Validates escapes and UTF-8. */
static int scan_string(lp *c, const char **raw, size_t *rawlen, int *esc)
{
    const char *p = c->p + 1, *e = c->e;
    int has_esc = 0;

    for (;;) {
        while (p + 8 <= e) {
            uint64_t v;
            memcpy(&v, p, 8);
            if (swar_special(v))
                break;
            p += 8;
        }
        if (p >= e)
            return perr(c, p, MEL_ESYNTAX, "unterminated string");
        {
            unsigned char ch = (unsigned char)*p;
            if (ch == '"')
                break;
            if (ch == '\\') {
                char x;
                has_esc = 1;
                if (p + 1 >= e)
                    return perr(c, p, MEL_ESYNTAX, "unterminated string");
                x = p[1];
                if (x == 'u') {
                    int k;
                    for (k = 0; k < 4; k++)
                        if (p + 2 + k >= e || hexval(p[2 + k]) < 0)
                            return perr(c, p, MEL_EENCODING, "bad \\u escape");
                    p += 6;
                } else if (x == '"' || x == '\\' || x == '/' || x == 'b' || x == 'f' ||
                           x == 'n' || x == 'r' || x == 't') {
                    p += 2;
                } else {
                    return perr(c, p, MEL_EENCODING, "invalid escape '\\%c'",
                                (x >= 0x20 && x < 0x7f) ? x : '?');
                }
            } else if (ch < 0x20) {
                return perr(c, p, MEL_ESYNTAX, "control character 0x%02x in string", ch);
            } else if (ch >= 0x80) {
                size_t n = utf8_seq((const unsigned char *)p, (const unsigned char *)e);
                if (!n)
                    return perr(c, p, MEL_EENCODING, "invalid UTF-8 in string");
                p += n;
            } else {
                p++;
            }
        }
    }
    *raw = c->p + 1;
    *rawlen = (size_t)(p - (c->p + 1));
    *esc = has_esc;
    c->p = p + 1;
    return MEL_OK;
}

static size_t put_utf8(char *d, uint32_t cp)
{
    if (cp < 0x80) {
        d[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | (cp >> 6));
        d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (char)(0xe0 | (cp >> 12));
        d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (char)(0xf0 | (cp >> 18));
    d[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static uint32_t hex4(const char *p)
{
    return (uint32_t)(hexval(p[0]) << 12 | hexval(p[1]) << 8 | hexval(p[2]) << 4 | hexval(p[3]));
}

/* Unescapes a string already validated by scan_string into d (room for
 * len bytes suffices).  Lone surrogates become WTF-8.  Returns bytes written. */
static size_t unescape(const char *s, size_t len, char *d)
{
    const char *e = s + len;
    char *d0 = d;

    while (s < e) {
        if (*s != '\\') {
            *d++ = *s++;
            continue;
        }
        switch (s[1]) {
        case 'b': *d++ = '\b'; s += 2; break;
        case 'f': *d++ = '\f'; s += 2; break;
        case 'n': *d++ = '\n'; s += 2; break;
        case 'r': *d++ = '\r'; s += 2; break;
        case 't': *d++ = '\t'; s += 2; break;
        case 'u': {
            uint32_t cp = hex4(s + 2);
            s += 6;
            if (cp >= 0xd800 && cp <= 0xdbff && s + 6 <= e && s[0] == '\\' && s[1] == 'u') {
                uint32_t lo = hex4(s + 2);
                if (lo >= 0xdc00 && lo <= 0xdfff) {
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                    s += 6;
                }
            }
            d += put_utf8(d, cp);
            break;
        }
        default: *d++ = s[1]; s += 2; break;
        }
    }
    return (size_t)(d - d0);
}

/* Scans a JSON number at c->p.  *is_int: no fraction/exponent; *neg; *u the
 * magnitude if is_int and it fits in 64 bits (*big set otherwise). */
static int scan_number(lp *c, int *is_int, int *neg, uint64_t *u, int *big)
{
    const char *p = c->p, *e = c->e, *d0;
    uint64_t v = 0;
    int nd = 0;

    *neg = 0;
    *big = 0;
    *is_int = 1;
    if (p < e && *p == '-') {
        *neg = 1;
        p++;
    }
    if (p >= e || !is_digit(*p))
        return perr(c, p, MEL_ESYNTAX, "invalid number");
    d0 = p;
    if (*p == '0') {
        p++;
    } else {
        while (p < e && is_digit(*p)) {
            unsigned dgt = (unsigned)(*p - '0');
            if (nd >= 19 && (v > (UINT64_MAX - dgt) / 10))
                *big = 1;
            else
                v = v * 10 + dgt;
            nd++;
            p++;
        }
    }
    if (p < e && is_digit(*p))
        return perr(c, d0, MEL_ESYNTAX, "leading zero in number");
    if (p < e && *p == '.') {
        *is_int = 0;
        p++;
        if (p >= e || !is_digit(*p))
            return perr(c, p, MEL_ESYNTAX, "invalid number");
        while (p < e && is_digit(*p))
            p++;
    }
    if (p < e && (*p == 'e' || *p == 'E')) {
        *is_int = 0;
        p++;
        if (p < e && (*p == '+' || *p == '-'))
            p++;
        if (p >= e || !is_digit(*p))
            return perr(c, p, MEL_ESYNTAX, "invalid number");
        while (p < e && is_digit(*p))
            p++;
    }
    *u = v;
    c->p = p;
    return MEL_OK;
}

static inline unsigned ctz64(uint64_t x)
{
#if defined(__GNUC__)
    return (unsigned)__builtin_ctzll(x);
#else
    unsigned n = 0;
    while (!(x & 1)) {
        x >>= 1;
        n++;
    }
    return n;
#endif
}

/* Value of 8 ASCII digits minus '0' each, first digit in the lowest byte. */
static inline uint64_t conv8(uint64_t x)
{
    x = (x * 10) + (x >> 8);
    return (((x & 0x000000FF000000FFull) * (100 + (1000000ull << 32))) +
            (((x >> 16) & 0x000000FF000000FFull) * (1 + (10000ull << 32)))) >> 32;
}

/* Number of leading digits (0-8) of the 8 bytes at p; *x gets them minus '0'. */
static inline unsigned digits8(const char *p, uint64_t *x)
{
    uint64_t v, d, nd;
    memcpy(&v, p, 8);
    d = v - 0x3030303030303030ull;
    nd = (d | (d + 0x7676767676767676ull)) & 0x8080808080808080ull;
    *x = d;
    return nd ? ctz64(nd) >> 3 : 8;
}

/* SWAR fast path for an unsigned integer of 1-16 digits followed by a
 * non-digit, with at least 17 readable bytes (it reads p[0..15]).  Returns the digit count, or 0
 * if the slow path must decide (leading zero, 17+ digits, fraction...). */
static inline unsigned fast_u64(const char *p, uint64_t *out)
{
    uint64_t x, y;
    unsigned n = digits8(p, &x), m;

    if (n == 0 || (*p == '0' && n > 1))
        return 0;
    if (n < 8) {
        *out = conv8(x << (64 - 8 * n));
        return n;
    }
    m = digits8(p + 8, &y);
    if (m == 8)
        return 0;
    {
        static const uint64_t pow10[8] = {1, 10, 100, 1000, 10000, 100000, 1000000, 10000000};
        uint64_t lo = m ? conv8(y << (64 - 8 * m)) : 0;
        *out = conv8(x) * pow10[m] + lo;
    }
    return 8 + m;
}

static int parse_u64_slow(lp *c, uint64_t *out, const char *what);

/* Parses an unsigned 64-bit integer (address, size, ...).  what names the
 * field in messages. */
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
static inline int parse_u64(lp *c, uint64_t *out, const char *what)
{
    const char *p = c->p;
    uint64_t v;

    /* 17 bytes: the 16 fast_u64 reads and the one after the digits */
    if (MEL_LIKELY(c->e - p >= 17)) {
        unsigned n = fast_u64(p, &v);
        if (MEL_LIKELY(n && p[n] != '.' && (p[n] | 0x20) != 'e')) {
            c->p = p + n;
            *out = v;
            return MEL_OK;
        }
    }
    return parse_u64_slow(c, out, what);
}

#if defined(__GNUC__)
__attribute__((noinline))
#endif
static int parse_u64_slow(lp *c, uint64_t *out, const char *what)
{
    const char *p = c->p, *e = c->e, *start = c->p;
    uint64_t v;
    int is_int, neg, big, rc;

    if (MEL_LIKELY(p < e && is_digit(*p) && *p != '0')) {
        /* fast path: up to 19 digits cannot overflow */
        const char *lim = (e - p > 19) ? p + 19 : e;
        v = (uint64_t)(*p++ - '0');
        while (p < lim && is_digit(*p))
            v = v * 10 + (uint64_t)(*p++ - '0');
        if (MEL_LIKELY(p >= e || (!is_digit(*p) && *p != '.' && *p != 'e' && *p != 'E'))) {
            c->p = p;
            *out = v;
            return MEL_OK;
        }
    }
    if (c->p >= e || (*c->p != '-' && !is_digit(*c->p)))
        return perr(c, start, MEL_EFIELD, "\"%s\" must be an unsigned integer", what);
    rc = scan_number(c, &is_int, &neg, &v, &big);
    if (rc)
        return rc;
    if (!is_int)
        return perr(c, start, MEL_EFIELD, "\"%s\" must be an integer", what);
    if (neg && (v != 0 || big))
        return perr(c, start, MEL_ERANGE, "\"%s\" is negative", what);
    if (big)
        return perr(c, start, MEL_ERANGE, "\"%s\" does not fit in 64 bits", what);
    *out = v;
    return MEL_OK;
}

/* Skips any JSON value at c->p (validating it), without recursion. */
static int skip_value(lp *c)
{
    unsigned char st[MAX_DEPTH];
    int depth = 0, rc, is_int, neg, big, esc;
    const char *raw;
    size_t rawlen;
    uint64_t u;

value:
    skip_ws(c);
    if (c->p >= c->e)
        return perr(c, c->p, MEL_ESYNTAX, "expected a value");
    switch (*c->p) {
    case '{':
        c->p++;
        skip_ws(c);
        if (c->p < c->e && *c->p == '}') {
            c->p++;
            goto after;
        }
        if (depth == MAX_DEPTH)
            return perr(c, c->p, MEL_ESYNTAX, "nesting too deep");
        st[depth++] = 'o';
        goto key;
    case '[':
        c->p++;
        skip_ws(c);
        if (c->p < c->e && *c->p == ']') {
            c->p++;
            goto after;
        }
        if (depth == MAX_DEPTH)
            return perr(c, c->p, MEL_ESYNTAX, "nesting too deep");
        st[depth++] = 'a';
        goto value;
    case '"':
        rc = scan_string(c, &raw, &rawlen, &esc);
        if (rc)
            return rc;
        goto after;
    case 't':
        if (c->e - c->p >= 4 && memcmp(c->p, "true", 4) == 0) {
            c->p += 4;
            goto after;
        }
        break;
    case 'f':
        if (c->e - c->p >= 5 && memcmp(c->p, "false", 5) == 0) {
            c->p += 5;
            goto after;
        }
        break;
    case 'n':
        if (c->e - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
            c->p += 4;
            goto after;
        }
        break;
    default:
        if (*c->p == '-' || is_digit(*c->p)) {
            rc = scan_number(c, &is_int, &neg, &u, &big);
            if (rc)
                return rc;
            goto after;
        }
        break;
    }
    return perr(c, c->p, MEL_ESYNTAX, "expected a value");

key:
    skip_ws(c);
    if (c->p >= c->e || *c->p != '"')
        return perr(c, c->p, MEL_ESYNTAX, "expected a key");
    rc = scan_string(c, &raw, &rawlen, &esc);
    if (rc)
        return rc;
    skip_ws(c);
    if (c->p >= c->e || *c->p != ':')
        return perr(c, c->p, MEL_ESYNTAX, "expected ':'");
    c->p++;
    goto value;

after:
    if (depth == 0)
        return MEL_OK;
    skip_ws(c);
    if (c->p < c->e && *c->p == ',') {
        c->p++;
        if (st[depth - 1] == 'o')
            goto key;
        goto value;
    }
    if (c->p < c->e && *c->p == (st[depth - 1] == 'o' ? '}' : ']')) {
        c->p++;
        depth--;
        goto after;
    }
    return perr(c, c->p, MEL_ESYNTAX, "expected ',' or '%c'", st[depth - 1] == 'o' ? '}' : ']');
}

/* Reads a string value, unescaped, pointing into the line when it has no
 * escapes, else into the growable buffer *buf. */
static int string_to_buf(lp *c, char **buf, size_t *cap, const char **out, size_t *len)
{
    const char *raw;
    size_t rawlen;
    int esc, rc = scan_string(c, &raw, &rawlen, &esc);

    if (rc)
        return rc;
    if (!esc) {
        *out = raw;
        *len = rawlen;
        return MEL_OK;
    }
    if (rawlen + 1 > *cap) {
        size_t ncap = rawlen + 64;
        char *np = mel__realloc(c->l->alloc, *buf, *cap, ncap);
        if (!np)
            return oom(c);
        *buf = np;
        *cap = ncap;
    }
    *len = unescape(raw, rawlen, *buf);
    *out = *buf;
    return MEL_OK;
}

/* Reads a string value into the loader's scratch buffer (unescaped). */
static int string_to_scratch(lp *c, const char **out, size_t *len)
{
    return string_to_buf(c, &c->l->scratch, &c->l->scratch_cap, out, len);
}

/* Reads a string value and appends it (unescaped) to the value arena. */
static int string_to_arena(lp *c, uint64_t *off)
{
    mel__arena *ar = &c->l->g->varena;
    const char *raw;
    size_t rawlen, n, vl;
    int esc, rc = scan_string(c, &raw, &rawlen, &esc);
    uint64_t v;
    char *d;

    if (rc)
        return rc;
    if (MEL_UNLIKELY(ar->cap - ar->n < rawlen + 10) &&
        mel__arena_reserve(c->l->alloc, ar, rawlen + 10))
        return oom(c);
    n = esc ? 0 : rawlen;
    if (esc) {
        /* unescape after a 10-byte gap, then move down behind the length */
        n = unescape(raw, rawlen, ar->p + ar->n + 10);
    }
    *off = ar->n;
    v = n;
    vl = 0;
    d = ar->p + ar->n;
    do {
        uint8_t b = (uint8_t)(v & 0x7f);
        v >>= 7;
        d[vl++] = (char)(v ? (b | 0x80) : b);
    } while (v);
    if (esc)
        memmove(d + vl, d + 10, n);
    else if (n)
        memcpy(d + vl, raw, n);
    ar->n += vl + n;
    return MEL_OK;
}

/* Appends bytes + NUL to the loader's names arena. */
static int names_put(mel_loader *l, const char *s, size_t len, uint64_t *off)
{
    if (mel__arena_reserve(l->alloc, &l->names, len + 1))
        return MEL_ENOMEM;
    *off = l->names.n;
    if (len)
        memcpy(l->names.p + l->names.n, s, len);
    l->names.p[l->names.n + len] = '\0';
    l->names.n += len + 1;
    return MEL_OK;
}

static uint32_t hash_name(const char *s, size_t len, uint64_t seed)
{
    uint64_t h = (seed * 0x9E3779B97F4A7C15ull) ^ len, t;

    while (len >= 8) {
        memcpy(&t, s, 8);
        h = (h ^ t) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
        s += 8;
        len -= 8;
    }
    if (len) {
        t = 0;
        memcpy(&t, s, len);
        h = (h ^ t) * 0xc4ceb9fe1a85ec53ull;
    }
    return (uint32_t)(h ^ (h >> 29));
}

/* Interns (name, type_addr) as a raw type.  MEL_NONE on ENOMEM. */
static uint32_t rawtype_intern(mel_loader *l, const char *name, size_t len, uint64_t type_addr)
{
    uint32_t h = hash_name(name, len, type_addr), t, mask;
    uint64_t off;

    if (l->rthash) {
        t = l->rthash[h & ((1u << l->rtbits) - 1)];
        while (t != MEL_NONE) {
            const rawtype *r = &l->rtypes[t];
            if (r->type_addr == type_addr && r->name_len == len &&
                memcmp(l->names.p + r->name_off, name, len) == 0)
                return t;
            t = r->hnext;
        }
    }
    if (len > UINT32_MAX || l->nrtypes >= UINT32_MAX - 1)
        return MEL_NONE;
    if (l->nrtypes == l->rtypes_cap) {
        uint32_t ncap = l->rtypes_cap ? l->rtypes_cap * 2 : 64;
        rawtype *nr = mel__realloc(l->alloc, l->rtypes, (size_t)l->rtypes_cap * sizeof *nr,
                                   (size_t)ncap * sizeof *nr);
        if (!nr)
            return MEL_NONE;
        l->rtypes = nr;
        l->rtypes_cap = ncap;
    }
    if (!l->rthash || l->nrtypes + 1 > (1u << l->rtbits)) {
        uint32_t nbits = l->rthash ? l->rtbits + 1 : 7, k;
        uint32_t *nh = mel__malloc(l->alloc, sizeof *nh << nbits);
        if (!nh)
            return MEL_NONE;
        for (k = 0; k < (1u << nbits); k++)
            nh[k] = MEL_NONE;
        for (k = 0; k < l->nrtypes; k++) {
            rawtype *r = &l->rtypes[k];
            uint32_t b = hash_name(l->names.p + r->name_off, r->name_len, r->type_addr) &
                         ((1u << nbits) - 1);
            r->hnext = nh[b];
            nh[b] = k;
        }
        mel__free(l->alloc, l->rthash, 0);
        l->rthash = nh;
        l->rtbits = nbits;
    }
    if (names_put(l, name, len, &off))
        return MEL_NONE;
    mask = (1u << l->rtbits) - 1;
    t = l->nrtypes++;
    l->rtypes[t].name_off = off;
    l->rtypes[t].name_len = (uint32_t)len;
    l->rtypes[t].type_addr = type_addr;
    l->rtypes[t].hnext = l->rthash[h & mask];
    l->rthash[h & mask] = t;
    return t;
}

/* rawtype_intern through a small direct-mapped cache: a dump names few
 * types, and a hit costs one name comparison instead of hashing the name
 * and walking a chain.  MEL_NONE on ENOMEM. */
static inline uint32_t rawtype_get(mel_loader *l, const char *name, size_t len, uint64_t type_addr)
{
    uint64_t k = (type_addr ^ ((uint64_t)len << 40) ^
                  (len ? (uint64_t)(unsigned char)name[len - 1] << 48 : 0)) *
                 0x9E3779B97F4A7C15ull;
    unsigned slot = (unsigned)(k >> 56);
    uint32_t t = l->tcache[slot];

    if (MEL_LIKELY(t != 0)) {
        const rawtype *r = &l->rtypes[t - 1];
        if (MEL_LIKELY(r->type_addr == type_addr && r->name_len == len &&
                       memcmp(l->names.p + r->name_off, name, len) == 0))
            return t - 1;
    }
    t = rawtype_intern(l, name, len, type_addr);
    if (t != MEL_NONE)
        l->tcache[slot] = t + 1;
    return t;
}

/* ---------------------------------------------------------------------
 * Object lines
 * ------------------------------------------------------------------- */

#define LINE_META 1 /* the line is a header or trailer */

/* The keys as the writer spells them, with ": ", padded to 16 bytes. */
static const char K_ADDRESS[16] = "\"address\": ";
static const char K_TYPE[16] = "\"type\": ";
static const char K_TYPE_ADDR[16] = "\"type_addr\": ";
static const char K_SIZE[16] = "\"size\": ";
static const char K_STATIC[16] = "\"static\": ";
static const char K_LEN[16] = "\"len\": ";
static const char K_VALUE[16] = "\"value\": ";
static const char K_REFS[16] = "\"refs\": ";
static const char K_NAME[16] = "\"name\": ";
static const char K_KV[16] = "\"kv\": ";
static const char K_QUALNAME[16] = "\"qualname\": ";

static inline uint64_t ld64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Nonzero if the ll (1-16) bytes at p (16 readable) equal lit16's. */
static inline int lit_eq(const char *p, const char *lit16, size_t ll)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    uint64_t a = ld64(p) ^ ld64(lit16), b;
    if (ll <= 8)
        return (a << (8 * (8 - ll))) == 0;
    b = ld64(p + 8) ^ ld64(lit16 + 8);
    return (a | (b << (8 * (16 - ll)))) == 0;
#else
    return memcmp(p, lit16, ll) == 0;
#endif
}

static int key_is(const char *k, size_t klen, const char *lit, size_t litlen)
{
    return klen == litlen && memcmp(k, lit, litlen) == 0;
}
#define KEY(lit) key_is(key, klen, lit, sizeof(lit) - 1)

/* Object line keys the loader reads. */
enum {
    KID_OTHER = 0, KID_REFS, KID_ADDRESS, KID_TYPE, KID_SIZE, KID_VALUE, KID_NAME, KID_LEN,
    KID_TYPE_ADDR, KID_KV, KID_QUALNAME, KID_STATIC, KID_MELIAE
};

static int key_id(const char *key, size_t klen)
{
    switch (klen) {
    case 2: return KEY("kv") ? KID_KV : KID_OTHER;
    case 3: return KEY("len") ? KID_LEN : KID_OTHER;
    case 4:
        if (KEY("refs"))
            return KID_REFS;
        if (KEY("type"))
            return KID_TYPE;
        if (KEY("size"))
            return KID_SIZE;
        return KEY("name") ? KID_NAME : KID_OTHER;
    case 5: return KEY("value") ? KID_VALUE : KID_OTHER;
    case 6:
        if (KEY("static"))
            return KID_STATIC;
        return KEY("meliae") ? KID_MELIAE : KID_OTHER;
    case 7: return KEY("address") ? KID_ADDRESS : KID_OTHER;
    case 8: return KEY("qualname") ? KID_QUALNAME : KID_OTHER;
    case 9: return KEY("type_addr") ? KID_TYPE_ADDR : KID_OTHER;
    default: return KID_OTHER;
    }
}

/* Parses the refs array at c->p, appending raw addresses to l->refs. */
static int parse_refs(lp *c)
{
    mel_loader *l = c->l;
    int rc;

    if (c->p >= c->e || *c->p != '[')
        return perr(c, c->p, MEL_EFIELD, "\"refs\" must be a list of addresses");
    c->p++;
    skip_ws(c);
    if (c->p < c->e && *c->p == ']') {
        c->p++;
        return MEL_OK;
    }
    for (;;) {
        uint64_t a;
        if (MEL_UNLIKELY(l->nrefs == l->refs_cap)) {
            uint64_t ncap = l->refs_cap ? l->refs_cap * 2 : 4096;
            uint64_t *np;
            if (ncap > ((uint64_t)UINT32_MAX) + 1)
                ncap = ((uint64_t)UINT32_MAX) + 1;
            if (l->nrefs >= ncap)
                return perr(c, c->p, MEL_ELIMIT, "more than 2^32-1 references in the dump");
            np = mel__realloc(l->alloc, l->refs, (size_t)l->refs_cap * sizeof *np,
                              (size_t)ncap * sizeof *np);
            if (!np)
                return oom(c);
            l->refs = np;
            l->refs_cap = ncap;
        }
        rc = parse_u64(c, &a, "refs");
        if (rc) {
            if (rc == MEL_EFIELD && c->p < c->e && *c->p != '-' && !is_digit(*c->p))
                return perr(c, c->p, MEL_EFIELD, "\"refs\" must hold unsigned integers");
            return rc;
        }
        l->refs[l->nrefs++] = a;
        if (MEL_LIKELY(c->p + 1 < c->e && c->p[0] == ',' && c->p[1] == ' ')) {
            c->p += 2;
            continue;
        }
        skip_ws(c);
        if (c->p < c->e && *c->p == ',') {
            c->p++;
            skip_ws(c);
            continue;
        }
        if (c->p < c->e && *c->p == ']') {
            c->p++;
            return MEL_OK;
        }
        return perr(c, c->p, MEL_ESYNTAX, "expected ',' or ']' in \"refs\"");
    }
}

/* One object record as parsed from a line. */
typedef struct rec {
    uint64_t address, size, type_addr, kv;
    int64_t len;
    const char *tname;
    size_t tname_len;
    unsigned vkind;
    uint64_t val;
    int have_addr, have_type, have_size, have_value, is_static, have_qual;
    const char *kv_at;         /* where the "kv" value starts, NULL if none */
    uint64_t qual_off;
    size_t qual_len;
} rec;

/* Parses the "value" field. */
static int parse_value(lp *c, rec *r)
{
    mel_loader *l = c->l;
    int rc, is_int, neg, big;
    uint64_t u;

    if (c->p >= c->e)
        return perr(c, c->p, MEL_ESYNTAX, "expected a value");
    switch (*c->p) {
    case '"':
        rc = string_to_arena(c, &r->val);
        if (rc)
            return rc;
        r->vkind = MEL__V_TEXT;
        break;
    case 't':
    case 'f':
    case 'n': {
        const char *at = c->p;
        rc = skip_value(c);
        if (rc)
            return rc;
        if (*at == 'n') {
            r->vkind = MEL__V_NULL;
        } else {
            r->vkind = MEL__V_BOOL;
            r->val = *at == 't';
        }
        break;
    }
    default:
        if (*c->p == '-' || is_digit(*c->p)) {
            rc = scan_number(c, &is_int, &neg, &u, &big);
            if (rc)
                return rc;
            if (is_int && !big && (neg ? u <= (uint64_t)INT64_MAX + 1 : u <= (uint64_t)INT64_MAX)) {
                r->vkind = MEL__V_INT;
                r->val = neg ? (uint64_t)0 - u : u;
            } else {
                r->vkind = MEL__V_NONE;
            }
        } else {
            rc = skip_value(c); /* objects / arrays: valid JSON, no value kept */
            if (rc)
                return rc;
            r->vkind = MEL__V_NONE;
        }
        break;
    }
    (void)l;
    r->have_value = 1;
    return MEL_OK;
}

/* Parses an object line's members (c->p just after '{').  Returns 0,
 * LINE_META, or a negative error. */
static int parse_members(lp *c, rec *r, uint64_t refs_mark, uint64_t arena_mark)
{
    mel_loader *l = c->l;
    const char *key;
    size_t klen;
    int rc, esc, have_refs = 0, kid;
    uint64_t u;

    skip_ws(c);
    if (c->p < c->e && *c->p == '}') {
        c->p++;
        return MEL_OK;
    }
    for (;;) {
        const char *kstart = c->p;
        if (MEL_LIKELY(c->e - c->p >= 16 && *c->p == '"')) {
            /* fast path: the keys as the writer spells them, with ": " */
            const char *lit = NULL;
            size_t ll = 0;
            kid = KID_OTHER;
            switch (c->p[1]) {
            case 'a': lit = K_ADDRESS; kid = KID_ADDRESS; ll = 11; break;
            case 't':
                if (c->p[5] == '"') {
                    lit = K_TYPE;
                    kid = KID_TYPE;
                    ll = 8;
                } else {
                    lit = K_TYPE_ADDR;
                    kid = KID_TYPE_ADDR;
                    ll = 13;
                }
                break;
            case 's':
                if (c->p[2] == 'i') {
                    lit = K_SIZE;
                    kid = KID_SIZE;
                    ll = 8;
                } else {
                    lit = K_STATIC;
                    kid = KID_STATIC;
                    ll = 10;
                }
                break;
            case 'l': lit = K_LEN; kid = KID_LEN; ll = 7; break;
            case 'v': lit = K_VALUE; kid = KID_VALUE; ll = 9; break;
            case 'r': lit = K_REFS; kid = KID_REFS; ll = 8; break;
            case 'n': lit = K_NAME; kid = KID_NAME; ll = 8; break;
            case 'k': lit = K_KV; kid = KID_KV; ll = 6; break;
            case 'q': lit = K_QUALNAME; kid = KID_QUALNAME; ll = 12; break;
            default: break;
            }
            if (lit && lit_eq(c->p, lit, ll)) {
                key = lit + 1;
                klen = ll - 4;
                c->p += ll;
                goto have_key;
            }
        }
        if (c->p >= c->e || *c->p != '"')
            return perr(c, c->p, MEL_ESYNTAX, "expected a key");
        rc = scan_string(c, &key, &klen, &esc);
        if (rc)
            return rc;
        if (esc) {
            c->p = kstart;
            rc = string_to_scratch(c, &key, &klen);
            if (rc)
                return rc;
        }
        kid = key_id(key, klen);
        if (MEL_LIKELY(c->p + 1 < c->e && c->p[0] == ':' && c->p[1] == ' ')) {
            c->p += 2;
        } else {
            skip_ws(c);
            if (c->p >= c->e || *c->p != ':')
                return perr(c, c->p, MEL_ESYNTAX, "expected ':'");
            c->p++;
        }
        skip_ws(c);
    have_key:
        if (kid == KID_REFS) {
            if (have_refs)
                l->nrefs = refs_mark; /* a repeated key: the last one wins */
            rc = parse_refs(c);
            have_refs = 1;
        } else if (kid == KID_ADDRESS) {
            rc = parse_u64(c, &r->address, "address");
            r->have_addr = 1;
        } else if (kid == KID_TYPE) {
            if (c->p >= c->e || *c->p != '"')
                return perr(c, c->p, MEL_EFIELD, "\"type\" must be a string");
            r->have_type = 1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            if (MEL_LIKELY(c->e - c->p >= 9)) {
                /* a name of at most 7 plain ASCII bytes: its closing quote
                 * is the first special byte of the 8 after the opening one */
                uint64_t v = ld64(c->p + 1), sp = swar_special(v);
                if (sp) {
                    unsigned k = ctz64(sp) >> 3;
                    if (c->p[1 + k] == '"') {
                        r->tname = c->p + 1;
                        r->tname_len = k;
                        c->p += k + 2;
                        goto value_done;
                    }
                }
            }
#endif
            rc = string_to_buf(c, &l->tscratch, &l->tscratch_cap, &r->tname, &r->tname_len);
        } else if (kid == KID_SIZE) {
            rc = parse_u64(c, &r->size, "size");
            r->have_size = 1;
        } else if (kid == KID_VALUE) {
            if (r->have_value && (r->vkind == MEL__V_TEXT || r->vkind == MEL__V_NAME))
                l->g->varena.n = arena_mark;
            rc = parse_value(c, r);
        } else if (kid == KID_NAME) {
            if (c->p >= c->e || *c->p != '"')
                return perr(c, c->p, MEL_EFIELD, "\"name\" must be a string");
            if (r->have_value) {
                rc = skip_value(c); /* "value" wins */
            } else {
                rc = string_to_arena(c, &r->val);
                r->vkind = MEL__V_NAME;
            }
        } else if (kid == KID_LEN) {
            rc = parse_u64(c, &u, "len");
            if (!rc && u > (uint64_t)INT64_MAX)
                return perr(c, c->p, MEL_ERANGE, "\"len\" too large");
            r->len = (int64_t)u;
        } else if (kid == KID_TYPE_ADDR) {
            rc = parse_u64(c, &r->type_addr, "type_addr");
        } else if (kid == KID_KV) {
            r->kv_at = c->p;
            rc = parse_u64(c, &r->kv, "kv");
        } else if (kid == KID_QUALNAME) {
            const char *q;
            size_t qlen;
            if (c->p >= c->e || *c->p != '"')
                return perr(c, c->p, MEL_EFIELD, "\"qualname\" must be a string");
            rc = string_to_scratch(c, &q, &qlen);
            if (!rc) {
                if (names_put(l, q, qlen, &r->qual_off))
                    return oom(c);
                r->qual_len = qlen;
                r->have_qual = 1;
            }
        } else if (kid == KID_STATIC) {
            const char *at = c->p;
            rc = skip_value(c);
            if (!rc)
                r->is_static = *at == 't';
        } else if (kid == KID_MELIAE) {
            return LINE_META;
        } else {
            rc = skip_value(c);
        }
        if (rc)
            return rc;
    value_done:
        if (MEL_LIKELY(c->p + 1 < c->e && c->p[0] == ',' && c->p[1] == ' ')) {
            c->p += 2;
            continue;
        }
        skip_ws(c);
        if (c->p < c->e && *c->p == ',') {
            c->p++;
            skip_ws(c);
            continue;
        }
        if (c->p < c->e && *c->p == '}') {
            c->p++;
            return MEL_OK;
        }
        return perr(c, c->p, MEL_ESYNTAX, "expected ',' or '}'");
    }
}

/* Appends a qualname record for node i. */
static int qual_add(mel_loader *l, uint32_t i, uint64_t off, size_t len)
{
    if (l->nquals == l->quals_cap) {
        size_t ncap = l->quals_cap ? l->quals_cap * 2 : 64;
        qualrec *nq = mel__realloc(l->alloc, l->quals, l->quals_cap * sizeof *nq,
                                   ncap * sizeof *nq);
        if (!nq)
            return MEL_ENOMEM;
        l->quals = nq;
        l->quals_cap = ncap;
    }
    l->quals[l->nquals].node = i;
    l->quals[l->nquals].off = off;
    l->quals[l->nquals].len = (uint32_t)len;
    l->nquals++;
    return MEL_OK;
}

/* Parses one object line (c->p at '{') and commits the record. */
static int object_line(lp *c)
{
    mel_loader *l = c->l;
    struct mel_graph *g = l->g;
    uint64_t refs_mark = l->nrefs, arena_mark = g->varena.n, names_mark = l->names.n;
    const char *open = c->p;
    rec r;
    uint32_t i, rt;
    int rc;

    /* field by field: a memset of the whole record costs more per line */
    r.address = r.size = r.type_addr = r.kv = r.val = r.qual_off = 0;
    r.len = -1;
    r.tname = NULL;
    r.tname_len = r.qual_len = 0;
    r.vkind = 0;
    r.have_addr = r.have_type = r.have_size = r.have_value = r.is_static = r.have_qual = 0;
    r.kv_at = NULL;
    c->p++;
    rc = parse_members(c, &r, refs_mark, arena_mark);
    if (rc == MEL_OK) {
        skip_ws(c);
        if (c->p < c->e && *c->p == ',')
            c->p++;
        skip_ws(c);
        if (c->open_end) {
            if (c->p < c->e && *c->p == '\n')
                c->e = c->p; /* the line ends here */
            else
                rc = MEL_ESYNTAX; /* the caller parses the line again, exactly */
        } else if (c->p < c->e) {
            rc = perr(c, c->p, MEL_ESYNTAX, "unexpected characters after the object");
        }
    }
    if (rc == MEL_OK) {
        if (!r.have_addr)
            rc = perr(c, open, MEL_EFIELD, "missing \"address\"");
        else if (!r.have_type)
            rc = perr(c, open, MEL_EFIELD, "missing \"type\"");
        else if (!r.have_size)
            rc = perr(c, open, MEL_EFIELD, "missing \"size\"");
        else if (r.kv > (l->nrefs - refs_mark) / 2)
            rc = perr(c, r.kv_at, MEL_EFIELD,
                      "\"kv\" is %llu pairs but \"refs\" holds %llu addresses",
                      (unsigned long long)r.kv, (unsigned long long)(l->nrefs - refs_mark));
        else if (l->rep.has_trailer)
            rc = perr(c, open, MEL_EFIELD, "object line after the trailer");
    }
    if (rc)
        goto rollback;

    l->saw_object = 1;
    if (g->n >= UINT32_MAX - 2) {
        rc = perr(c, open, MEL_ELIMIT, "more than 2^32-3 objects");
        goto rollback;
    }
    if (MEL_UNLIKELY(g->n + 1 > g->cap) && mel__graph_reserve(g, g->n + 1))
        goto nomem;
    i = g->n;
    g->addr[i] = r.address;
    /* classic bools: the strings "True" / "False" on a bool */
    if (r.vkind == MEL__V_TEXT && r.tname_len == 4 && memcmp(r.tname, "bool", 4) == 0) {
        size_t vlen;
        const char *v = mel__arena_text(&g->varena, r.val, &vlen);
        if ((vlen == 4 && memcmp(v, "True", 4) == 0) || (vlen == 5 && memcmp(v, "False", 5) == 0)) {
            r.val = vlen == 4;
            r.vkind = MEL__V_BOOL;
            g->varena.n = arena_mark;
        }
    }
    rt = rawtype_get(l, r.tname, r.tname_len, r.type_addr);
    if (rt == MEL_NONE)
        goto nomem;
    g->type[i] = rt;
    g->flags[i] = (uint8_t)((r.is_static ? MEL_NODE_STATIC : 0) | (r.vkind << MEL__F_VSHIFT));
    g->val[i] = r.val;
    g->kv16[i] = 0;
    if (MEL_LIKELY(r.size < MEL__SIZE_SIDE))
        g->size32[i] = (uint32_t)r.size;
    else if (mel__set_size(g, i, r.size))
        goto nomem;
    if (r.len < 0)
        g->len32[i] = MEL__LEN_NONE;
    else if (MEL_LIKELY((uint64_t)r.len < MEL__LEN_SIDE))
        g->len32[i] = (uint32_t)r.len;
    else if (mel__set_len(g, i, r.len))
        goto nomem;
    if (r.kv && mel__set_kv(g, i, r.kv))
        goto nomem;
    if (r.have_qual && qual_add(l, i, r.qual_off, r.qual_len))
        goto nomem;
    g->coff[i] = (uint32_t)refs_mark;
    g->coff[i + 1] = (uint32_t)l->nrefs;
    g->n++;
    l->rep.objects++;
    return MEL_OK;

nomem:
    rc = perr(c, open, MEL_ENOMEM, "out of memory");
rollback:
    l->nrefs = refs_mark;
    g->varena.n = arena_mark;
    l->names.n = names_mark;
    return rc;
}

/* ---------------------------------------------------------------------
 * Header and trailer
 * ------------------------------------------------------------------- */

static int parse_roots(lp *c)
{
    mel_loader *l = c->l;
    int rc;

    if (c->p >= c->e || *c->p != '[')
        return perr(c, c->p, MEL_EFIELD, "\"roots\" must be a list");
    c->p++;
    skip_ws(c);
    if (c->p < c->e && *c->p == ']') {
        c->p++;
        return MEL_OK;
    }
    for (;;) {
        rawroot rr;
        const char *obj = c->p, *key, *s;
        size_t klen, slen;
        int esc, have_addr = 0;

        rr.kind_off = UINT64_MAX;
        rr.name_off = UINT64_MAX;
        rr.address = 0;
        if (c->p >= c->e || *c->p != '{')
            return perr(c, c->p, MEL_EFIELD, "a root must be an object");
        c->p++;
        skip_ws(c);
        while (c->p < c->e && *c->p != '}') {
            const char *kstart = c->p;
            if (*c->p != '"')
                return perr(c, c->p, MEL_ESYNTAX, "expected a key");
            rc = scan_string(c, &key, &klen, &esc);
            if (rc)
                return rc;
            if (esc) {
                c->p = kstart;
                rc = string_to_scratch(c, &key, &klen);
                if (rc)
                    return rc;
            }
            skip_ws(c);
            if (c->p >= c->e || *c->p != ':')
                return perr(c, c->p, MEL_ESYNTAX, "expected ':'");
            c->p++;
            skip_ws(c);
            if ((KEY("kind") || KEY("name")) && c->p < c->e && *c->p == '"') {
                int is_kind = KEY("kind");
                rc = string_to_scratch(c, &s, &slen);
                if (rc)
                    return rc;
                if (names_put(l, s, slen, is_kind ? &rr.kind_off : &rr.name_off))
                    return oom(c);
            } else if (KEY("address")) {
                rc = parse_u64(c, &rr.address, "address");
                if (rc)
                    return rc;
                have_addr = 1;
            } else {
                rc = skip_value(c);
                if (rc)
                    return rc;
            }
            skip_ws(c);
            if (c->p < c->e && *c->p == ',') {
                c->p++;
                skip_ws(c);
            } else if (c->p >= c->e || *c->p != '}') {
                return perr(c, c->p, MEL_ESYNTAX, "expected ',' or '}'");
            }
        }
        if (c->p >= c->e)
            return perr(c, c->p, MEL_ESYNTAX, "unterminated root");
        c->p++;
        if (!have_addr)
            return perr(c, obj, MEL_EFIELD, "a root needs an \"address\"");
        if (rr.kind_off == UINT64_MAX && names_put(l, "other", 5, &rr.kind_off))
            return oom(c);
        if (l->nrroots == l->rroots_cap) {
            size_t ncap = l->rroots_cap ? l->rroots_cap * 2 : 8;
            rawroot *nr = mel__realloc(l->alloc, l->rroots, l->rroots_cap * sizeof *nr,
                                       ncap * sizeof *nr);
            if (!nr)
                return oom(c);
            l->rroots = nr;
            l->rroots_cap = ncap;
        }
        l->rroots[l->nrroots++] = rr;
        skip_ws(c);
        if (c->p < c->e && *c->p == ',') {
            c->p++;
            skip_ws(c);
            continue;
        }
        if (c->p < c->e && *c->p == ']') {
            c->p++;
            return MEL_OK;
        }
        return perr(c, c->p, MEL_ESYNTAX, "expected ',' or ']'");
    }
}

/* Parses a header or trailer line (c->p at '{'). */
static int meta_line(lp *c)
{
    mel_loader *l = c->l;
    mel_load_report *rep = &l->rep;
    const char *open = c->p, *key, *s;
    size_t klen, slen;
    int rc, esc, kind = 0; /* 1 header, 2 trailer */
    int have_version = 0, major = 0, minor = 0, have_complete = 0, complete = 0;
    int pointer_size = 0;
    uint64_t objects = 0, u;
    size_t nroots_before = l->nrroots;
    char pyver[sizeof rep->python_version] = "";
    const char *version_at = NULL;

    c->p++;
    skip_ws(c);
    while (c->p < c->e && *c->p != '}') {
        const char *kstart = c->p, *vstart;
        if (*c->p != '"')
            return perr(c, c->p, MEL_ESYNTAX, "expected a key");
        rc = scan_string(c, &key, &klen, &esc);
        if (rc)
            return rc;
        if (esc) {
            c->p = kstart;
            rc = string_to_scratch(c, &key, &klen);
            if (rc)
                return rc;
        }
        skip_ws(c);
        if (c->p >= c->e || *c->p != ':')
            return perr(c, c->p, MEL_ESYNTAX, "expected ':'");
        c->p++;
        skip_ws(c);
        vstart = c->p;
        if (KEY("meliae")) {
            if (c->p >= c->e || *c->p != '"')
                return perr(c, c->p, MEL_EFIELD, "\"meliae\" must be \"dump\" or \"end\"");
            rc = string_to_scratch(c, &s, &slen);
            if (rc)
                return rc;
            if (slen == 4 && memcmp(s, "dump", 4) == 0)
                kind = 1;
            else if (slen == 3 && memcmp(s, "end", 3) == 0)
                kind = 2;
            else
                return perr(c, vstart, MEL_EFIELD, "\"meliae\" must be \"dump\" or \"end\"");
        } else if (KEY("version")) {
            uint64_t a, b = 0;
            version_at = vstart;
            if (c->p >= c->e || *c->p != '[')
                return perr(c, c->p, MEL_EFIELD, "\"version\" must be [major, minor]");
            c->p++;
            skip_ws(c);
            rc = parse_u64(c, &a, "version");
            if (rc)
                return rc;
            skip_ws(c);
            if (c->p < c->e && *c->p == ',') {
                c->p++;
                skip_ws(c);
                rc = parse_u64(c, &b, "version");
                if (rc)
                    return rc;
                skip_ws(c);
            }
            if (c->p >= c->e || *c->p != ']')
                return perr(c, c->p, MEL_EFIELD, "\"version\" must be [major, minor]");
            c->p++;
            major = a > 1000000 ? 1000000 : (int)a;
            minor = b > 1000000 ? 1000000 : (int)b;
            have_version = 1;
        } else if (KEY("format")) {
            if (c->p >= c->e || *c->p != '"')
                return perr(c, c->p, MEL_EFIELD, "\"format\" must be a string");
            rc = string_to_scratch(c, &s, &slen);
            if (rc)
                return rc;
            if (slen != strlen(MEL_FORMAT_NAME) || memcmp(s, MEL_FORMAT_NAME, slen) != 0)
                return perr(c, vstart, MEL_EVERSION, "unknown format name");
        } else if (KEY("python") && c->p < c->e && *c->p == '"') {
            rc = string_to_scratch(c, &s, &slen);
            if (rc)
                return rc;
            if (slen >= sizeof pyver)
                slen = sizeof pyver - 1;
            memcpy(pyver, s, slen);
            pyver[slen] = '\0';
        } else if (KEY("pointer_size")) {
            rc = parse_u64(c, &u, "pointer_size");
            if (rc)
                return rc;
            pointer_size = u > 64 ? 0 : (int)u;
        } else if (KEY("roots")) {
            rc = parse_roots(c);
            if (rc)
                return rc;
        } else if (KEY("objects")) {
            rc = parse_u64(c, &objects, "objects");
            if (rc)
                return rc;
        } else if (KEY("complete")) {
            rc = skip_value(c);
            if (rc)
                return rc;
            have_complete = 1;
            complete = *vstart == 't';
        } else {
            rc = skip_value(c);
            if (rc)
                return rc;
        }
        skip_ws(c);
        if (c->p < c->e && *c->p == ',') {
            c->p++;
            skip_ws(c);
        } else if (c->p >= c->e || *c->p != '}') {
            return perr(c, c->p, MEL_ESYNTAX, "expected ',' or '}'");
        }
    }
    if (c->p >= c->e)
        return perr(c, c->p, MEL_ESYNTAX, "unterminated object");
    c->p++;
    skip_ws(c);
    if (c->p < c->e && *c->p == ',')
        c->p++;
    skip_ws(c);
    if (c->p < c->e)
        return perr(c, c->p, MEL_ESYNTAX, "unexpected characters after the object");

    if (kind == 1) {
        if (!have_version)
            return perr(c, open, MEL_EFIELD, "header without \"version\"");
        if (major != MEL_FORMAT_MAJOR)
            return perr(c, version_at, MEL_EVERSION, "format major version %d, this reader knows %d",
                        major, MEL_FORMAT_MAJOR);
        if (rep->has_header || l->saw_object) {
            l->nrroots = nroots_before;
            return perr(c, open, MEL_EFIELD, "header after the first line");
        }
        rep->has_header = 1;
        rep->format_major = major;
        rep->format_minor = minor;
        memcpy(rep->python_version, pyver, sizeof pyver);
        rep->pointer_size = pointer_size;
    } else {
        l->nrroots = nroots_before;
        if (rep->has_trailer)
            return perr(c, open, MEL_EFIELD, "a second trailer");
        rep->has_trailer = 1;
        rep->trailer_objects = objects;
        rep->trailer_complete = have_complete ? complete : 1;
    }
    return MEL_OK;
}

/* ---------------------------------------------------------------------
 * Lines and the stream
 * ------------------------------------------------------------------- */

/* Records a bad line: fatal in strict mode (and always for version / memory
 * errors); otherwise counted.  Returns 0 or the fatal code. */
static int bad_line(mel_loader *l, const mel_error *e)
{
    if (l->opt.strict || e->code == MEL_EVERSION || e->code == MEL_ENOMEM ||
        e->code == MEL_ECANCELED) {
        l->failed = e->code;
        l->fail_err = *e;
        return e->code;
    }
    if (l->rep.bad_lines++ == 0)
        l->rep.first_bad = *e;
    return MEL_OK;
}

static int progress(mel_loader *l, const char *phase)
{
    mel_progress pr;

    if (!l->opt.progress)
        return MEL_OK;
    pr.lines = l->line;
    pr.objects = l->rep.objects;
    pr.bytes_read = l->bytes_in ? l->bytes_in : l->offset;
    pr.bytes_total = l->bytes_total;
    pr.phase = phase;
    if (l->opt.progress(l->opt.progress_ctx, &pr)) {
        mel_error e;
        memset(&e, 0, sizeof e);
        mel__fail(&e, MEL_ECANCELED, "canceled by the progress callback");
        e.line = l->line;
        l->failed = MEL_ECANCELED;
        l->fail_err = e;
        return MEL_ECANCELED;
    }
    return MEL_OK;
}

/* Parses one complete line s[0..len) (without '\n') starting at stream
 * offset off.  Returns 0 or a fatal code. */
static int do_line(mel_loader *l, const char *s, size_t len, uint64_t off)
{
    mel_error e;
    lp c;
    int rc;

    l->line++;
    c.s = c.p = s;
    c.e = s + len;
    c.l = l;
    c.err = &e;
    c.line = l->line;
    c.line_off = off;
    c.open_end = 0;
    if (MEL_UNLIKELY(l->line >= l->next_progress)) {
        l->next_progress = l->line + l->progress_every;
        rc = progress(l, "loading");
        if (rc)
            return rc;
    }
    skip_ws(&c);
    if (MEL_LIKELY(c.p < c.e && *c.p == '{')) {
        const char *open = c.p;
        rc = object_line(&c);
        if (rc == LINE_META) {
            c.p = open;
            rc = meta_line(&c);
        }
    } else if (c.p >= c.e) {
        return MEL_OK; /* blank line */
    } else if (*c.p == '[' || *c.p == ']') {
        /* the classic array form: "[" and "]" alone on their lines */
        c.p++;
        skip_ws(&c);
        if (c.p < c.e && *c.p == ',')
            c.p++;
        skip_ws(&c);
        rc = c.p < c.e ? perr(&c, c.p, MEL_ESYNTAX, "unexpected characters after '%c'", *s)
                       : MEL_OK;
    } else {
        rc = perr(&c, c.p, MEL_ESYNTAX, "expected '{'");
    }
    if (rc)
        return bad_line(l, &e);
    return MEL_OK;
}

/* Parses the object line starting at p (a '{' at the start of a line, no
 * partial line carried) without looking for its end first: the parser
 * stops at the '\n' by itself, since no token takes one in, and the object
 * must be followed by it.  Returns 0 with *len the line's length without the
 * '\n'; 1 when the line must take the ordinary way (a header or trailer, a
 * bad line, whose error the ordinary pass reports exactly, no '\n' before e,
 * a progress report due), the attempt having kept nothing; or MEL_ENOMEM,
 * fatal as on the ordinary way (the loader is failed). */
static int open_line(mel_loader *l, const char *p, const char *e, size_t *len)
{
    mel_error err;
    lp c;
    int rc;

    if (MEL_UNLIKELY(l->line + 1 >= l->next_progress || (size_t)(e - p) > l->max_line))
        return 1;
    c.s = c.p = p;
    c.e = e;
    c.l = l;
    c.err = &err;
    c.line = l->line + 1;
    c.line_off = l->offset;
    c.open_end = 1;
    rc = object_line(&c);
    if (MEL_UNLIKELY(rc == MEL_ENOMEM)) {
        l->line++;
        return bad_line(l, &err);
    }
    if (rc != MEL_OK)
        return 1;
    l->line++;
    *len = (size_t)(c.e - p);
    return MEL_OK;
}

/* A line longer than max_line was found; it is skipped. */
static int too_long(mel_loader *l, uint64_t off)
{
    mel_error e;

    l->line++;
    memset(&e, 0, sizeof e);
    mel__fail(&e, MEL_ELIMIT, "line longer than %zu bytes", l->max_line);
    e.line = l->line;
    e.column = (uint64_t)l->max_line + 1;
    e.byte_offset = off + l->max_line;
    return bad_line(l, &e);
}

static int carry_append(mel_loader *l, const char *p, size_t n)
{
    if (l->ncarry + n > l->carry_cap) {
        size_t ncap = l->carry_cap ? l->carry_cap : 65536;
        char *np;
        while (ncap < l->ncarry + n)
            ncap *= 2;
        np = mel__realloc(l->alloc, l->carry, l->carry_cap, ncap);
        if (!np)
            return MEL_ENOMEM;
        l->carry = np;
        l->carry_cap = ncap;
    }
    memcpy(l->carry + l->ncarry, p, n);
    l->ncarry += n;
    return MEL_OK;
}

static int fail_copy(mel_loader *l, mel_error *err)
{
    if (err)
        *err = l->fail_err;
    return l->failed;
}

static int fail_nomem(mel_loader *l, mel_error *err)
{
    memset(&l->fail_err, 0, sizeof l->fail_err);
    mel__fail(&l->fail_err, MEL_ENOMEM, "out of memory");
    l->fail_err.line = l->line;
    l->failed = MEL_ENOMEM;
    return fail_copy(l, err);
}

int mel_loader_feed(mel_loader *l, const void *buf, size_t len, mel_error *err)
{
    const char *p = buf, *e = p + len;

    if (!l || (!buf && len))
        return mel__fail(err, MEL_EINVAL, "null loader or buffer");
    if (l->failed)
        return fail_copy(l, err);
    if (!l->g)
        return mel__fail(err, MEL_EINVAL, "the loader has already finished");
    while (p < e) {
        const char *nl;
        size_t take;

        if (l->skipping) {
            nl = memchr(p, '\n', (size_t)(e - p));
            if (!nl) {
                l->offset += (uint64_t)(e - p);
                return MEL_OK;
            }
            l->offset += (uint64_t)(nl + 1 - p);
            p = nl + 1;
            l->skipping = 0;
            continue;
        }
        if (MEL_LIKELY(!l->ncarry && *p == '{')) {
            int orc = open_line(l, p, e, &take);
            if (MEL_LIKELY(orc == MEL_OK)) {
                l->offset += take + 1;
                p += take + 1;
                continue;
            }
            if (orc < 0)
                return fail_copy(l, err);
        }
        nl = memchr(p, '\n', (size_t)(e - p));
        take = nl ? (size_t)(nl - p) : (size_t)(e - p);
        if (l->ncarry || !nl) {
            uint64_t line_off = l->offset - l->ncarry;
            if (l->ncarry + take > l->max_line) {
                l->ncarry = 0;
                if (too_long(l, line_off))
                    return fail_copy(l, err);
                l->skipping = 1;
                continue; /* the skip branch consumes through the newline */
            }
            if (carry_append(l, p, take))
                return fail_nomem(l, err);
            l->offset += take;
            p += take;
            if (!nl)
                return MEL_OK;
            l->offset++;
            p++;
            if (do_line(l, l->carry, l->ncarry, line_off)) {
                l->ncarry = 0;
                return fail_copy(l, err);
            }
            l->ncarry = 0;
            continue;
        }
        if (take > l->max_line) {
            if (too_long(l, l->offset))
                return fail_copy(l, err);
        } else if (do_line(l, p, take, l->offset)) {
            return fail_copy(l, err);
        }
        l->offset += take + 1;
        p = nl + 1;
    }
    return MEL_OK;
}

void mel__loader_set_input(mel_loader *l, uint64_t bytes_read, uint64_t bytes_total)
{
    l->bytes_in = bytes_read;
    l->bytes_total = bytes_total;
}

int mel__loader_stream_error(mel_loader *l, int code, const char *detail, mel_error *err)
{
    mel_error e;

    if (l->failed)
        return fail_copy(l, err);
    memset(&e, 0, sizeof e);
    mel__fail(&e, code, "%s", detail);
    e.line = l->line + 1;
    e.column = (uint64_t)l->ncarry + 1;
    e.byte_offset = l->offset;
    if (l->opt.strict) {
        l->failed = code;
        l->fail_err = e;
        return fail_copy(l, err);
    }
    if (l->rep.bad_lines++ == 0)
        l->rep.first_bad = e;
    return MEL_OK;
}

/* ---------------------------------------------------------------------
 * Building the graph
 * ------------------------------------------------------------------- */

/* Appends a missing node for address a; returns its index or MEL_NONE. */
static uint32_t add_missing(struct mel_graph *g, uint64_t a)
{
    uint32_t i = mel__nodes(g);

    if (i >= UINT32_MAX - 2 || mel__graph_reserve(g, i + 1))
        return MEL_NONE;
    g->addr[i] = a;
    g->type[i] = g->missing_type;
    g->size32[i] = 0;
    g->len32[i] = MEL__LEN_NONE;
    g->kv16[i] = 0;
    g->flags[i] = MEL_NODE_MISSING;
    g->val[i] = 0;
    g->coff[i + 1] = g->coff[i];
    if (mel__index_insert(g, i))
        return MEL_NONE;
    g->nmissing++;
    return i;
}

#define PREFETCH(p) MEL_PREFETCH(p)

/* Drops the records flagged as duplicates by mel__index_build (the first
 * record of an address stays), renumbering the rest densely in file order,
 * then rebuilds the address index.  0 or MEL_ENOMEM. */
static int drop_duplicates(mel_loader *l)
{
    struct mel_graph *g = l->g;
    uint32_t n = g->n, i, j = 0, *map;
    uint64_t roff = 0;
    size_t k, q;
    mel__sparse *sides[3];

    map = mel__malloc(l->alloc, ((size_t)n + 1) * sizeof *map);
    if (!map)
        return MEL_ENOMEM;
    for (i = 0; i < n; i++) {
        uint32_t start = g->coff[i], end = g->coff[i + 1];
        if (g->flags[i] & MEL__F_RELOC) {
            map[i] = MEL_NONE;
            continue;
        }
        map[i] = j;
        g->addr[j] = g->addr[i];
        g->type[j] = g->type[i];
        g->size32[j] = g->size32[i];
        g->len32[j] = g->len32[i];
        g->kv16[j] = g->kv16[i];
        g->flags[j] = g->flags[i];
        g->val[j] = g->val[i];
        if (roff != start)
            memmove(l->refs + roff, l->refs + start, (size_t)(end - start) * sizeof *l->refs);
        g->coff[j] = (uint32_t)roff;
        roff += end - start;
        j++;
    }
    g->coff[j] = (uint32_t)roff;
    l->nrefs = roff;
    g->n = j;
    sides[0] = &g->size_side;
    sides[1] = &g->len_side;
    sides[2] = &g->kv_side;
    for (q = 0; q < 3; q++) {
        mel__sparse *sp = sides[q];
        size_t w = 0;
        for (k = 0; k < sp->n; k++) {
            if (map[sp->idx[k]] == MEL_NONE)
                continue;
            sp->idx[w] = map[sp->idx[k]];
            sp->val[w++] = sp->val[k];
        }
        sp->n = w;
    }
    for (k = 0, q = 0; k < l->nquals; k++) {
        if (map[l->quals[k].node] == MEL_NONE)
            continue;
        l->quals[q] = l->quals[k];
        l->quals[q++].node = map[l->quals[k].node];
    }
    l->nquals = q;
    mel__free(l->alloc, map, 0);
    return mel__index_rebuild(g, g->n);
}

/* Resolves raw ref addresses into node indexes, in place (u64 -> u32).
 * Lookups go in blocks of 256 so their cache misses overlap: hash and
 * prefetch every slot of the block, then read the slots and prefetch the
 * addresses they name, then confirm.  A fingerprint mismatch, a longer probe
 * or a missing address falls back to mel__find / add_missing. */
/* Addresses a read-only resolution pass did not find: where they were
 * (index into the block) and what they were. */
typedef struct missrec {
    uint64_t pos, addr;
} missrec;

typedef struct misslist {
    const mel_allocator *alloc;
    missrec *v;
    size_t n, cap;
} misslist;

static int miss_add(misslist *ml, uint64_t pos, uint64_t addr)
{
    if (ml->n == ml->cap) {
        size_t ncap = ml->cap ? ml->cap * 2 : 1024;
        missrec *nv = mel__realloc(ml->alloc, ml->v, ml->cap * sizeof *nv, ncap * sizeof *nv);
        if (!nv)
            return MEL_ENOMEM;
        ml->v = nv;
        ml->cap = ncap;
    }
    ml->v[ml->n].pos = pos;
    ml->v[ml->n++].addr = addr;
    return MEL_OK;
}

/* Resolves buf[0..n) in place (u64 addresses -> u32 nodes).  With miss
 * NULL, an absent address becomes a missing node at once; otherwise the
 * graph is only read (two blocks may be resolved at the same time) and
 * absent addresses are listed in miss for the caller, their slots left
 * MEL_NONE. */
static int resolve_block(mel_loader *l, unsigned char *buf, uint64_t n, misslist *miss)
{
    enum { B = 256 };
    struct mel_graph *g = l->g;
    uint64_t base, a[B];
    uint32_t hs[B], cand[B];
    unsigned i, m;

    for (base = 0; base < n; base += B) {
        uint32_t im = (uint32_t)(((uint64_t)1 << g->hidxbits) - 1), fpm = ~im;
        uint32_t hmask = (uint32_t)(((uint64_t)1 << g->hbits) - 1);
        unsigned bits = g->hbits;
        int stale = 0;
        m = n - base < B ? (unsigned)(n - base) : B;
        for (i = 0; i < m; i++) {
            memcpy(&a[i], buf + (base + i) * 8, 8);
            hs[i] = (uint32_t)mel__hash_addr(a[i], bits);
            PREFETCH(&g->hslots[hs[i]]);
        }
        for (i = 0; i < m; i++) {
            /* probe within the slot's cache line (already fetched): the
             * first fingerprint match is the candidate, an empty slot
             * proves the address absent */
            uint64_t x = mel__mix_addr(a[i]);
            uint32_t want = g->hidxbits >= 32 ? 0 : (uint32_t)((x & ((1u << (32 - g->hidxbits)) - 1)) << g->hidxbits);
            uint32_t h = hs[i], hend = (h | 15u) < hmask ? (h | 15u) : hmask;
            cand[i] = MEL_NONE - 1; /* unknown: ask mel__find */
            for (;;) {
                uint32_t sl = g->hslots[h];
                if (!sl) {
                    cand[i] = MEL_NONE;
                    break;
                }
                if ((sl & fpm) == want) {
                    cand[i] = (sl & im) - 1;
                    PREFETCH(&g->addr[cand[i]]);
                    break;
                }
                if (h == hend)
                    break;
                h++;
            }
        }
        for (i = 0; i < m; i++) {
            uint32_t j = cand[i];
            if (stale || j >= MEL_NONE - 1 || g->addr[j] != a[i]) {
                j = (!stale && j == MEL_NONE) ? MEL_NONE : mel__find(g, a[i]);
                if (MEL_UNLIKELY(j == MEL_NONE) && miss) {
                    if (miss_add(miss, base + i, a[i]))
                        return MEL_ENOMEM;
                } else if (MEL_UNLIKELY(j == MEL_NONE)) {
                    j = add_missing(g, a[i]);
                    if (j == MEL_NONE)
                        return MEL_ENOMEM;
                    stale = 1; /* the index may have been rebuilt */
                }
            }
            if (MEL_UNLIKELY(j >= g->n) && !miss)
                l->rep.dangling_refs++;
            memcpy(buf + (base + i) * 4, &j, 4);
        }
    }
    return MEL_OK;
}

typedef struct resolve_job {
    mel_loader *l;
    unsigned char *buf;
    uint64_t n;
    misslist miss;
    int rc;
} resolve_job;

static void *resolve_thread(void *arg)
{
    resolve_job *j = arg;
    j->rc = resolve_block(j->l, j->buf, j->n, &j->miss);
    return NULL;
}

/* Gives each listed absent address its node (a missing node, created in
 * list order, so in order of first appearance as in a one-block pass). */
static int resolve_misses(mel_loader *l, unsigned char *buf, const misslist *ml)
{
    size_t k;

    for (k = 0; k < ml->n; k++) {
        uint32_t j = mel__find(l->g, ml->v[k].addr);
        if (j == MEL_NONE) {
            j = add_missing(l->g, ml->v[k].addr);
            if (j == MEL_NONE)
                return MEL_ENOMEM;
        }
        l->rep.dangling_refs++;
        memcpy(buf + ml->v[k].pos * 4, &j, 4);
    }
    return MEL_OK;
}

/* Resolves the two blocks of a merged load on two threads, then their
 * absent addresses in file order.  0, MEL_ENOMEM, or 1 if no thread could
 * be started (nothing done). */
static int resolve_two(mel_loader *l)
{
    resolve_job j1, j2;
    pthread_t th;
    int rc;

    memset(&j1, 0, sizeof j1);
    memset(&j2, 0, sizeof j2);
    j1.l = j2.l = l;
    j1.miss.alloc = j2.miss.alloc = l->alloc;
    j1.buf = (unsigned char *)l->refs;
    j1.n = l->nrefs;
    j2.buf = (unsigned char *)l->refs2;
    j2.n = l->nrefs2;
    if (pthread_create(&th, NULL, resolve_thread, &j2) != 0)
        return 1;
    resolve_thread(&j1);
    pthread_join(th, NULL);
    rc = j1.rc ? j1.rc : j2.rc;
    if (!rc)
        rc = resolve_misses(l, j1.buf, &j1.miss);
    if (!rc)
        rc = resolve_misses(l, j2.buf, &j2.miss);
    mel__free(l->alloc, j1.miss.v, 0);
    mel__free(l->alloc, j2.miss.v, 0);
    return rc;
}

/* Resolves raw ref addresses into node indexes, in place (u64 -> u32), then
 * hands the array to the graph as its children.  A merged second half's
 * refs are resolved in their own block (on a second thread when there are
 * many) and appended.  Lookups go in blocks of 256 so their cache misses
 * overlap: hash and prefetch every slot of the block, then read the slots
 * and prefetch the addresses they name, then confirm.  A fingerprint
 * mismatch, a longer probe or a missing address falls back to mel__find /
 * add_missing. */
static int resolve_refs(mel_loader *l)
{
    struct mel_graph *g = l->g;
    uint64_t n1 = l->nrefs, n2 = l->nrefs2, n = n1 + n2;
    unsigned char *dst;
    int rc = 1;

    g->coff[g->n] = (uint32_t)n;
    if (n2 && n >= RESOLVE_THREAD_MIN && !l->alloc)
        rc = resolve_two(l);
    if (rc == 1 && (resolve_block(l, (unsigned char *)l->refs, n1, NULL) ||
                    resolve_block(l, (unsigned char *)l->refs2, n2, NULL)))
        rc = MEL_ENOMEM;
    if (rc < 0)
        return rc;
    dst = mel__realloc(l->alloc, l->refs, (size_t)l->refs_cap * 8, (size_t)(n ? n : 1) * 4);
    if (!dst)
        return MEL_ENOMEM;
    l->refs = NULL;
    l->refs_cap = 0;
    if (n2)
        memcpy(dst + n1 * 4, l->refs2, (size_t)n2 * 4);
    mel__free(l->alloc, l->refs2, 0);
    l->refs2 = NULL;
    l->nrefs2 = l->refs2_cap = 0;
    g->cdst = (uint32_t *)(void *)dst;
    g->ncdst = n;
    g->cdst_cap = n ? n : 1;
    return MEL_OK;
}

static int cmp_qual_node(const qualrec *q, uint32_t node)
{
    return q->node < node ? -1 : q->node > node;
}

/* Qualname of the record at address a, or NULL. */
static const qualrec *qual_of(const mel_loader *l, uint64_t a)
{
    uint32_t node;
    size_t lo = 0, hi = l->nquals;

    if (!a || !l->nquals)
        return NULL;
    node = mel__find(l->g, a);
    if (node == MEL_NONE || node >= l->g->n)
        return NULL;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cm = cmp_qual_node(&l->quals[mid], node);
        if (cm == 0)
            return &l->quals[mid];
        if (cm < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

/* Maps raw types to display types: the bare tp_name, unless different type
 * objects with different qualnames share it; then each gets its qualname. */
static int finish_types(mel_loader *l)
{
    struct mel_graph *g = l->g;
    uint32_t *bare = NULL, *disp = NULL, *first = NULL, k, i, nbase;
    uint8_t *conflict = NULL;
    int rc = MEL_ENOMEM;

    if (!l->nrtypes)
        return MEL_OK;
    bare = mel__malloc(l->alloc, (size_t)l->nrtypes * sizeof *bare);
    disp = mel__malloc(l->alloc, (size_t)l->nrtypes * sizeof *disp);
    if (!bare || !disp)
        goto done;
    for (k = 0; k < l->nrtypes; k++) {
        bare[k] = mel__type_intern(g, l->names.p + l->rtypes[k].name_off, l->rtypes[k].name_len);
        if (bare[k] == MEL_NONE)
            goto done;
    }
    nbase = g->ntypes;
    first = mel__malloc(l->alloc, (size_t)nbase * sizeof *first);
    conflict = mel__calloc(l->alloc, nbase, 1);
    if (!first || !conflict)
        goto done;
    for (k = 0; k < nbase; k++)
        first[k] = MEL_NONE;
    for (k = 0; k < l->nrtypes; k++) {
        const qualrec *q = qual_of(l, l->rtypes[k].type_addr);
        const qualrec *f;
        if (!q)
            continue;
        if (first[bare[k]] == MEL_NONE) {
            first[bare[k]] = (uint32_t)(q - l->quals);
            continue;
        }
        f = &l->quals[first[bare[k]]];
        if (f->len != q->len || memcmp(l->names.p + f->off, l->names.p + q->off, q->len) != 0)
            conflict[bare[k]] = 1;
    }
    for (k = 0; k < l->nrtypes; k++) {
        const qualrec *q = conflict[bare[k]] ? qual_of(l, l->rtypes[k].type_addr) : NULL;
        disp[k] = q ? mel__type_intern(g, l->names.p + q->off, q->len) : bare[k];
        if (disp[k] == MEL_NONE)
            goto done;
    }
    for (i = 0; i < g->n; i++)
        g->type[i] = disp[g->type[i]];
    rc = MEL_OK;
done:
    mel__free(l->alloc, bare, 0);
    mel__free(l->alloc, disp, 0);
    mel__free(l->alloc, first, 0);
    mel__free(l->alloc, conflict, 0);
    return rc;
}

static int finish_roots(mel_loader *l)
{
    struct mel_graph *g = l->g;
    size_t k;

    if (!l->nrroots)
        return MEL_OK;
    g->roots = mel__calloc(l->alloc, l->nrroots, sizeof *g->roots);
    if (!g->roots)
        return MEL_ENOMEM;
    for (k = 0; k < l->nrroots; k++) {
        const rawroot *rr = &l->rroots[k];
        mel__root *r = &g->roots[k];
        uint32_t node = mel__find(g, rr->address);
        size_t len;
        if (node == MEL_NONE) {
            node = add_missing(g, rr->address);
            if (node == MEL_NONE)
                return MEL_ENOMEM;
        }
        r->address = rr->address;
        r->node = node;
        g->flags[node] |= MEL_NODE_ROOT;
        len = strlen(l->names.p + rr->kind_off);
        if (mel__strs_put(g, l->names.p + rr->kind_off, len, &r->kind_off))
            return MEL_ENOMEM;
        r->name_off = UINT64_MAX;
        if (rr->name_off != UINT64_MAX) {
            len = strlen(l->names.p + rr->name_off);
            if (mel__strs_put(g, l->names.p + rr->name_off, len, &r->name_off))
                return MEL_ENOMEM;
        }
        g->nroots++;
    }
    return MEL_OK;
}

int mel__loader_flush(mel_loader *l, mel_error *err)
{
    int rc;

    if (l->failed)
        return fail_copy(l, err);
    if (l->ncarry) {
        /* a last line without '\n': complete if it parses */
        uint64_t off = l->offset - l->ncarry;
        rc = do_line(l, l->carry, l->ncarry, off);
        l->ncarry = 0;
        if (rc)
            return fail_copy(l, err);
    }
    return MEL_OK;
}

/* Moves the refs of a merged second half behind the first ones (one raw
 * block again).  0 or MEL_ENOMEM. */
static int join_refs(mel_loader *l)
{
    uint64_t *np;

    if (!l->refs2)
        return MEL_OK;
    if (l->nrefs + l->nrefs2 > l->refs_cap) {
        np = mel__realloc(l->alloc, l->refs, (size_t)l->refs_cap * sizeof *np,
                          (size_t)(l->nrefs + l->nrefs2) * sizeof *np);
        if (!np)
            return MEL_ENOMEM;
        l->refs = np;
        l->refs_cap = l->nrefs + l->nrefs2;
    }
    memcpy(l->refs + l->nrefs, l->refs2, (size_t)l->nrefs2 * sizeof *l->refs);
    l->nrefs += l->nrefs2;
    mel__free(l->alloc, l->refs2, 0);
    l->refs2 = NULL;
    l->nrefs2 = l->refs2_cap = 0;
    return MEL_OK;
}

/* Merges with at least this many nodes in the second half copy its arrays
 * on two threads. */
#define MERGE_THREAD_MIN ((uint32_t)1 << 16)

/* The steps of moving a second half's per-node arrays into the first's:
 * one array each, then type, value and children offsets, which are
 * rewritten (type ids mapped, text offsets and ref positions shifted; the
 * value kind is read from the flags already moved). */
enum { MV_ADDR, MV_SIZE, MV_LEN, MV_KV, MV_FLAGS, MV_REST, MOVE_STEPS };

/* One thread's share of a step: nodes [from, to) of the second half. */
typedef struct move_part {
    struct mel_graph *ga, *gb;
    const uint32_t *map;
    uint32_t na, from, to;
    uint64_t voff, nrefs_a;
    int step;
} move_part;

static void move_range(const move_part *m)
{
    struct mel_graph *ga = m->ga, *gb = m->gb;
    uint32_t i, na = m->na, from = m->from;
    size_t n = (size_t)(m->to - m->from);

    if (!n)
        return;
    switch (m->step) {
    case MV_ADDR: memcpy(ga->addr + na + from, gb->addr + from, n * sizeof *ga->addr); break;
    case MV_SIZE: memcpy(ga->size32 + na + from, gb->size32 + from, n * sizeof *ga->size32); break;
    case MV_LEN: memcpy(ga->len32 + na + from, gb->len32 + from, n * sizeof *ga->len32); break;
    case MV_KV: memcpy(ga->kv16 + na + from, gb->kv16 + from, n * sizeof *ga->kv16); break;
    case MV_FLAGS: memcpy(ga->flags + na + from, gb->flags + from, n * sizeof *ga->flags); break;
    default:
        for (i = from; i < m->to; i++) {
            unsigned vk = (ga->flags[na + i] & MEL__F_VMASK) >> MEL__F_VSHIFT;
            ga->type[na + i] = m->map[gb->type[i]];
            ga->val[na + i] = (vk == MEL__V_TEXT || vk == MEL__V_NAME) ? gb->val[i] + m->voff
                                                                       : gb->val[i];
            ga->coff[na + i] = gb->coff[i] + (uint32_t)m->nrefs_a;
        }
        break;
    }
}

static void *move_thread(void *arg)
{
    move_range(arg);
    return NULL;
}

/* Frees the second half's array a step has moved. */
static void move_done(const mel_allocator *alloc, struct mel_graph *gb, int step)
{
    switch (step) {
    case MV_ADDR: mel__free(alloc, gb->addr, 0); gb->addr = NULL; break;
    case MV_SIZE: mel__free(alloc, gb->size32, 0); gb->size32 = NULL; break;
    case MV_LEN: mel__free(alloc, gb->len32, 0); gb->len32 = NULL; break;
    case MV_KV: mel__free(alloc, gb->kv16, 0); gb->kv16 = NULL; break;
    case MV_FLAGS: mel__free(alloc, gb->flags, 0); gb->flags = NULL; break;
    default: break;
    }
}

int mel__loader_merge(mel_loader *a, mel_loader *b)
{
    struct mel_graph *ga = a->g, *gb = b->g;
    uint32_t na, nb, i, *map = NULL;
    uint64_t voff;
    size_t k;
    int rc = MEL_ENOMEM;

    if (!ga || !gb || a->failed || b->failed || a->rep.bad_lines || b->rep.bad_lines ||
        a->rep.has_trailer || b->rep.has_header || b->nrroots || a->ncarry || b->ncarry ||
        a->skipping || a->refs2 || gb->nmissing || ga->nmissing)
        return 1;
    na = ga->n;
    nb = gb->n;
    if ((uint64_t)na + nb >= UINT32_MAX - 2 || a->nrefs + b->nrefs > UINT32_MAX)
        return 1;
    if (b->nrtypes) {
        map = mel__malloc(a->alloc, (size_t)b->nrtypes * sizeof *map);
        if (!map)
            goto done;
        for (i = 0; i < b->nrtypes; i++) {
            const rawtype *r = &b->rtypes[i];
            map[i] = rawtype_intern(a, b->names.p + r->name_off, r->name_len, r->type_addr);
            if (map[i] == MEL_NONE)
                goto done;
        }
    }
    if (mel__graph_reserve(ga, na + nb) ||
        mel__arena_reserve(a->alloc, &ga->varena, gb->varena.n))
        goto done;
    voff = ga->varena.n;
    if (gb->varena.n)
        memcpy(ga->varena.p + voff, gb->varena.p, gb->varena.n);
    ga->varena.n += gb->varena.n;
    if (mel__sparse_append(a->alloc, &ga->size_side, &gb->size_side, na) ||
        mel__sparse_append(a->alloc, &ga->len_side, &gb->len_side, na) ||
        mel__sparse_append(a->alloc, &ga->kv_side, &gb->kv_side, na))
        goto done;
    for (k = 0; k < b->nquals; k++) {
        const qualrec *q = &b->quals[k];
        uint64_t off;
        if (names_put(a, b->names.p + q->off, q->len, &off) ||
            qual_add(a, q->node + na, off, q->len))
            goto done;
    }
    /* From here on nothing fails.  Each array of the second half is freed
     * as soon as it is copied, so the copies do not add up; a large one is
     * copied by two threads, half each. */
    {
        move_part p1, p2;
        int step;
        memset(&p1, 0, sizeof p1);
        p1.ga = ga;
        p1.gb = gb;
        p1.map = map;
        p1.na = na;
        p1.voff = voff;
        p1.nrefs_a = a->nrefs;
        p2 = p1;
        p1.to = p2.from = nb / 2;
        p2.to = nb;
        for (step = 0; step < MOVE_STEPS; step++) {
            pthread_t th;
            int threaded = nb >= MERGE_THREAD_MIN && !a->alloc;
            p1.step = p2.step = step;
            if (threaded && pthread_create(&th, NULL, move_thread, &p2) != 0)
                threaded = 0;
            move_range(&p1);
            if (threaded)
                pthread_join(th, NULL);
            else
                move_range(&p2);
            move_done(b->alloc, gb, step);
        }
    }
    ga->coff[na + nb] = (uint32_t)(a->nrefs + b->nrefs);
    ga->n = na + nb;
    a->refs2 = b->refs;
    a->nrefs2 = b->nrefs;
    a->refs2_cap = b->refs_cap;
    b->refs = NULL;
    b->nrefs = b->refs_cap = 0;
    a->rep.objects += b->rep.objects;
    a->rep.has_trailer = b->rep.has_trailer;
    a->rep.trailer_objects = b->rep.trailer_objects;
    a->rep.trailer_complete = b->rep.trailer_complete;
    a->saw_object |= b->saw_object;
    a->line += b->line;
    a->offset += b->offset;
    rc = MEL_OK;
done:
    mel__free(a->alloc, map, 0);
    return rc;
}

int mel_loader_finish(mel_loader *l, mel_graph **out, mel_load_report *report, mel_error *err)
{
    int rc = MEL_OK;

    if (out)
        *out = NULL;
    if (!l || !out)
        return mel__fail(err, MEL_EINVAL, "null loader or output");
    if (!l->g)
        return mel__fail(err, MEL_EINVAL, "the loader has already finished");
    rc = mel__loader_flush(l, err);
    if (rc)
        goto done;
    l->rep.classic = !l->rep.has_header;
    if (l->rep.objects == 0) {
        if (l->rep.bad_lines) {
            if (err)
                *err = l->rep.first_bad;
            rc = l->rep.first_bad.code;
        } else if (l->offset == 0) {
            rc = mel__fail(err, MEL_EEMPTY, "the file is empty%s%s",
                           l->opt.source_name ? ": " : "",
                           l->opt.source_name ? l->opt.source_name : "");
            if (err) {
                err->line = 1;
                err->column = 1;
                err->byte_offset = 0;
            }
        } else {
            rc = mel__fail(err, MEL_EEMPTY, "no object lines%s%s",
                           l->opt.source_name ? " in " : "",
                           l->opt.source_name ? l->opt.source_name : "");
        }
        goto done;
    }
    rc = progress(l, "indexing");
    if (rc) {
        rc = fail_copy(l, err);
        goto done;
    }
    {
        uint32_t ndup = 0;
        rc = mel__index_build(l->g, &ndup);
        if (!rc && ndup) {
            l->rep.duplicates += ndup;
            l->rep.objects -= ndup;
            rc = join_refs(l);
            if (!rc)
                rc = drop_duplicates(l);
        }
    }
    if (!rc)
        rc = resolve_refs(l);
    if (!rc)
        rc = finish_types(l);
    if (!rc)
        rc = finish_roots(l);
    if (rc) {
        rc = mel__fail(err, rc, "building the graph");
        goto done;
    }
    mel__graph_shrink(l->g);
    *out = l->g;
    l->g = NULL;
done:
    l->rep.lines = l->line;
    if (report)
        *report = l->rep;
    return rc;
}

int mel_loader_new(const mel_load_options *opts, mel_loader **out)
{
    mel_loader *l;
    const mel_allocator *a = opts ? opts->alloc : NULL;

    if (!out)
        return MEL_EINVAL;
    *out = NULL;
    l = mel__calloc(a, 1, sizeof *l);
    if (!l)
        return MEL_ENOMEM;
    if (opts)
        l->opt = *opts;
    l->alloc = a;
    l->max_line = l->opt.max_line ? l->opt.max_line : DEFAULT_MAX_LINE;
    l->progress_every = l->opt.progress_every ? l->opt.progress_every : 65536;
    l->next_progress = l->progress_every;
    if (mel__graph_new(a, &l->g)) {
        mel_loader_free(l);
        return MEL_ENOMEM;
    }
    *out = l;
    return MEL_OK;
}

void mel_loader_free(mel_loader *l)
{
    const mel_allocator *a;

    if (!l)
        return;
    a = l->alloc;
    mel_graph_free(l->g);
    mel__free(a, l->refs, 0);
    mel__free(a, l->refs2, 0);
    mel__free(a, l->rtypes, 0);
    mel__free(a, l->rthash, 0);
    mel__free(a, l->names.p, 0);
    mel__free(a, l->quals, 0);
    mel__free(a, l->rroots, 0);
    mel__free(a, l->carry, 0);
    mel__free(a, l->scratch, 0);
    mel__free(a, l->tscratch, 0);
    mel__free(a, l, sizeof *l);
}
