/*
 * writer.c - the dump writer: object records -> JSON lines (docs/format.md).
 *
 * The writer turns plain records (mel_object, mel_dump_header) into the
 * header line, one object line per record and the trailer line.  Output is
 * buffered (256 KiB by default) and handed to a mel_write_fn sink.  The first
 * sink error is sticky: the writer keeps its errno, drops further output and
 * every later call returns MEL_EIO.
 *
 * Escaping produces ASCII only: '"', '\' and '/' get a backslash (the classic
 * form), every other code point outside 0x20-0x7E becomes \uXXXX with
 * lower-case hex, code points above U+FFFF become a surrogate pair and lone
 * surrogates are written as their own \udXXX.  Numbers are formatted with a
 * two-digits-per-step table, never with printf, because a dump writes about
 * seven numbers per line.
 */
#include "mel_internal.h"

#include <errno.h>
#include <string.h>

#define DEFAULT_BUFFER (256u * 1024u)
#define MIN_BUFFER 64u
#define DEFAULT_VALUE_LIMIT 100u
/* The widest single escape: a surrogate pair, 12 bytes. */
#define MAX_ESCAPE 12u
/* The widest number: 20 digits of a uint64 and a sign. */
#define MAX_NUMBER 24u

struct mel_writer {
    const mel_allocator *alloc; /* borrowed; NULL = libc */
    mel_write_fn fn;            /* the sink */
    void *ctx;                  /* borrowed, passed to fn */
    char *buf;                  /* owned, cap bytes */
    size_t cap;
    size_t len;                 /* bytes buffered, not yet given to fn */
    size_t value_limit;         /* SIZE_MAX = no truncation */
    int omit_values;
    int sys_errno;              /* first sink failure, 0 if none */
    int header_written;
    int objects_started;
    int incomplete;             /* the trailer says "complete": false */
    uint64_t count;             /* object lines written */
};

/* ---------------------------------------------------------------------
 * Buffer management
 * ------------------------------------------------------------------- */

/* Hands the buffered bytes to the sink.  On failure records the errno
 * (sticky) and drops the bytes.  Returns 0 or MEL_EIO. */
static int drain(mel_writer *w)
{
    int rc;

    if (w->sys_errno) {
        w->len = 0;
        return MEL_EIO;
    }
    if (w->len == 0)
        return MEL_OK;
    rc = w->fn(w->ctx, w->buf, w->len);
    w->len = 0;
    if (rc != 0) {
        w->sys_errno = rc > 0 ? rc : EIO;
        return MEL_EIO;
    }
    return MEL_OK;
}

/* Makes room for n contiguous bytes (n <= cap).  After a sink failure the
 * room is still there (the bytes are dropped later), so callers never
 * overflow.  Returns a pointer to the free space. */
static char *reserve(mel_writer *w, size_t n)
{
    if (MEL_UNLIKELY(w->cap - w->len < n))
        (void)drain(w);
    return w->buf + w->len;
}

static void put(mel_writer *w, const char *s, size_t n)
{
    while (n > 0) {
        size_t room = w->cap - w->len;
        size_t k;

        if (room == 0) {
            (void)drain(w);
            room = w->cap;
        }
        k = n < room ? n : room;
        memcpy(w->buf + w->len, s, k);
        w->len += k;
        s += k;
        n -= k;
    }
}

#define PUT_LIT(w, lit) put((w), (lit), sizeof(lit) - 1)

/* ---------------------------------------------------------------------
 * Numbers
 * ------------------------------------------------------------------- */

static const char digit_pairs[201] =
    "00010203040506070809"
    "10111213141516171819"
    "20212223242526272829"
    "30313233343536373839"
    "40414243444546474849"
    "50515253545556575859"
    "60616263646566676869"
    "70717273747576777879"
    "80818283848586878889"
    "90919293949596979899";

/* Writes v in decimal at out (at least 20 bytes).  Returns the length. */
static size_t format_u64(uint64_t v, char *out)
{
    char tmp[MAX_NUMBER];
    char *p = tmp + sizeof tmp;
    size_t n;

    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        p -= 2;
        p[0] = digit_pairs[2 * r];
        p[1] = digit_pairs[2 * r + 1];
    }
    if (v >= 10) {
        p -= 2;
        p[0] = digit_pairs[2 * v];
        p[1] = digit_pairs[2 * v + 1];
    } else {
        *--p = (char)('0' + v);
    }
    n = (size_t)(tmp + sizeof tmp - p);
    memcpy(out, p, n);
    return n;
}

static void put_u64(mel_writer *w, uint64_t v)
{
    char *p = reserve(w, MAX_NUMBER);
    w->len += format_u64(v, p);
}

static void put_i64(mel_writer *w, int64_t v)
{
    char *p = reserve(w, MAX_NUMBER);

    if (v < 0) {
        *p++ = '-';
        w->len++;
        w->len += format_u64((uint64_t)0 - (uint64_t)v, p);
    } else {
        w->len += format_u64((uint64_t)v, p);
    }
}

/* ---------------------------------------------------------------------
 * Text decoding and escaping
 * ------------------------------------------------------------------- */

static const char hex_digits[] = "0123456789abcdef";

static size_t escape_u16(unsigned u, char *out)
{
    out[0] = '\\';
    out[1] = 'u';
    out[2] = hex_digits[(u >> 12) & 0xf];
    out[3] = hex_digits[(u >> 8) & 0xf];
    out[4] = hex_digits[(u >> 4) & 0xf];
    out[5] = hex_digits[u & 0xf];
    return 6;
}

/* Writes the JSON form of one code point at out (room for MAX_ESCAPE bytes).
 * Returns the number of bytes written. */
static size_t escape_cp(uint32_t cp, char *out)
{
    if (cp >= 0x20 && cp < 0x7f) {
        if (cp == '"' || cp == '\\' || cp == '/') {
            out[0] = '\\';
            out[1] = (char)cp;
            return 2;
        }
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x10000)
        return escape_u16(cp, out);
    if (cp > 0x10ffff) /* cannot come from CPython; keep the output valid */
        return escape_u16(0xfffd, out);
    cp -= 0x10000;
    escape_u16(0xd800 | (cp >> 10), out);
    escape_u16(0xdc00 | (cp & 0x3ff), out + 6);
    return 12;
}

/* Decodes one UTF-8 sequence at s[0..n) (n >= 1).  Stores the code point in
 * *cp and returns the bytes consumed.  An invalid or truncated sequence
 * consumes one byte and yields that byte's value (written as \u00XX).
 * Encoded surrogates (WTF-8) are accepted so lone surrogates survive. */
static size_t decode_utf8(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char c = s[0];
    uint32_t v;
    size_t need, i;

    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xc2 && c <= 0xdf) {
        need = 1;
        v = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        need = 2;
        v = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        need = 3;
        v = c & 0x07;
    } else {
        *cp = c;
        return 1;
    }
    if (n < need + 1) {
        *cp = c;
        return 1;
    }
    for (i = 1; i <= need; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            *cp = c;
            return 1;
        }
        v = (v << 6) | (s[i] & 0x3f);
    }
    /* Reject overlong forms and values beyond U+10FFFF. */
    if ((need == 2 && v < 0x800) || (need == 3 && (v < 0x10000 || v > 0x10ffff))) {
        *cp = c;
        return 1;
    }
    *cp = v;
    return need + 1;
}

/* A cursor over a mel_text that yields code points (bytes for BYTES). */
typedef struct text_iter {
    const mel_text *t;
    size_t pos; /* in units of the kind */
} text_iter;

/* Returns 1 and the next code point, or 0 at the end. */
static int next_cp(text_iter *it, uint32_t *cp)
{
    const mel_text *t = it->t;

    if (it->pos >= t->len)
        return 0;
    switch (t->kind) {
    case MEL_TEXT_UCS2:
        *cp = ((const uint16_t *)t->data)[it->pos++];
        return 1;
    case MEL_TEXT_UCS4:
        *cp = ((const uint32_t *)t->data)[it->pos++];
        return 1;
    case MEL_TEXT_UTF8:
        it->pos += decode_utf8((const unsigned char *)t->data + it->pos, t->len - it->pos, cp);
        return 1;
    default: /* LATIN1, BYTES */
        *cp = ((const unsigned char *)t->data)[it->pos++];
        return 1;
    }
}

/* Writes the escaped string (with quotes) for t, truncated to limit code
 * points (bytes for BYTES; 0 = no limit). */
static void put_text(mel_writer *w, const mel_text *t, size_t limit)
{
    text_iter it;
    uint32_t cp;
    size_t units = 0;

    it.t = t;
    it.pos = 0;
    reserve(w, 1)[0] = '"';
    w->len++;
    if (t->data) {
        /* Fast path: one byte per code point, printable ASCII copied as is. */
        if (t->kind == MEL_TEXT_LATIN1 || t->kind == MEL_TEXT_BYTES ||
            t->kind == MEL_TEXT_UTF8) {
            const unsigned char *s = t->data;
            size_t n = t->len;
            size_t i = 0;

            if (limit && limit < n && t->kind != MEL_TEXT_UTF8)
                n = limit;
            while (i < n) {
                size_t j = i;
                while (j < n && s[j] >= 0x20 && s[j] < 0x7f && s[j] != '"' && s[j] != '\\' &&
                       s[j] != '/')
                    j++;
                if (t->kind == MEL_TEXT_UTF8 && limit && j - i > limit - units)
                    j = i + (limit - units);
                put(w, (const char *)s + i, j - i);
                units += j - i;
                i = j;
                if (i >= n || (limit && units >= limit))
                    break;
                if (t->kind == MEL_TEXT_UTF8) {
                    i += decode_utf8(s + i, t->len - i, &cp);
                } else {
                    cp = s[i++];
                }
                w->len += escape_cp(cp, reserve(w, MAX_ESCAPE));
                units++;
            }
        } else {
            while ((!limit || units < limit) && next_cp(&it, &cp)) {
                w->len += escape_cp(cp, reserve(w, MAX_ESCAPE));
                units++;
            }
        }
    }
    reserve(w, 1)[0] = '"';
    w->len++;
}

size_t mel_json_escape(const mel_text *t, size_t limit, char *buf, size_t cap)
{
    text_iter it;
    uint32_t cp;
    size_t units = 0, need = 0;
    char tmp[MAX_ESCAPE];

    /* Writes up to cap-1 bytes and always terminates when cap > 0. */
#define EMIT(src, n)                                                     \
    do {                                                                 \
        size_t k_;                                                       \
        for (k_ = 0; k_ < (n); k_++) {                                   \
            if (need + k_ + 1 < cap)                                     \
                buf[need + k_] = (src)[k_];                              \
        }                                                                \
        need += (n);                                                     \
    } while (0)

    EMIT("\"", 1);
    if (t && t->data) {
        it.t = t;
        it.pos = 0;
        while ((!limit || units < limit) && next_cp(&it, &cp)) {
            size_t k = escape_cp(cp, tmp);
            EMIT(tmp, k);
            units++;
        }
    }
    EMIT("\"", 1);
#undef EMIT
    if (cap > 0)
        buf[need < cap ? need : cap - 1] = '\0';
    return need;
}

static void put_cstr(mel_writer *w, const char *s)
{
    mel_text t;

    t.data = s ? s : "";
    t.len = s ? strlen(s) : 0;
    t.kind = MEL_TEXT_UTF8;
    put_text(w, &t, 0);
}

/* ---------------------------------------------------------------------
 * Public API
 * ------------------------------------------------------------------- */

int mel_writer_new(const mel_allocator *alloc, mel_write_fn fn, void *ctx,
                   const mel_writer_options *opts, mel_writer **out)
{
    mel_writer *w = NULL;
    size_t cap = DEFAULT_BUFFER;
    int rc = MEL_OK;

    if (!out || !fn)
        return MEL_EINVAL;
    *out = NULL;
    if (opts && opts->buffer_size)
        cap = opts->buffer_size < MIN_BUFFER ? MIN_BUFFER : opts->buffer_size;
    w = mel__calloc(alloc, 1, sizeof *w);
    if (!w) {
        rc = MEL_ENOMEM;
        goto error;
    }
    w->alloc = alloc;
    w->fn = fn;
    w->ctx = ctx;
    w->cap = cap;
    w->value_limit = DEFAULT_VALUE_LIMIT;
    if (opts) {
        if (opts->value_limit)
            w->value_limit = opts->value_limit;
        w->omit_values = opts->omit_values != 0;
    }
    w->buf = mel__malloc(alloc, cap);
    if (!w->buf) {
        rc = MEL_ENOMEM;
        goto error;
    }
    *out = w;
    return MEL_OK;

error:
    if (w)
        mel__free(alloc, w, sizeof *w);
    return rc;
}

void mel_writer_free(mel_writer *w)
{
    const mel_allocator *a;

    if (!w)
        return;
    a = w->alloc;
    mel__free(a, w->buf, w->cap);
    mel__free(a, w, sizeof *w);
}

uint64_t mel_writer_count(const mel_writer *w)
{
    return w ? w->count : 0;
}

int mel_writer_errno(const mel_writer *w)
{
    return w ? w->sys_errno : 0;
}

void mel_writer_mark_incomplete(mel_writer *w)
{
    if (w)
        w->incomplete = 1;
}

int mel_writer_flush(mel_writer *w)
{
    if (!w)
        return MEL_EINVAL;
    return drain(w);
}

/* Writes seconds since the epoch with microsecond precision, without
 * printf (whose decimal point depends on the locale). */
static void put_time(mel_writer *w, double t)
{
    uint64_t whole, micros;
    char *p;
    int i;

    if (!(t >= 0.0) || t > 1.0e15)
        t = 0.0;
    whole = (uint64_t)t;
    micros = (uint64_t)((t - (double)whole) * 1e6 + 0.5);
    if (micros >= 1000000u) {
        whole++;
        micros -= 1000000u;
    }
    put_u64(w, whole);
    p = reserve(w, 7);
    p[0] = '.';
    for (i = 6; i >= 1; i--) {
        p[i] = (char)('0' + micros % 10);
        micros /= 10;
    }
    w->len += 7;
}

int mel_writer_header(mel_writer *w, const mel_dump_header *h)
{
    size_t i;

    if (!w || !h)
        return MEL_EINVAL;
    if (w->header_written || w->objects_started)
        return MEL_EINVAL;
    if (w->sys_errno)
        return MEL_EIO;
    w->header_written = 1;
    PUT_LIT(w, "{\"meliae\": \"dump\", \"format\": \"" MEL_FORMAT_NAME "\", \"version\": [");
    put_u64(w, MEL_FORMAT_MAJOR);
    PUT_LIT(w, ", ");
    put_u64(w, MEL_FORMAT_MINOR);
    PUT_LIT(w, "], \"python\": ");
    put_cstr(w, h->python_version);
    PUT_LIT(w, ", \"implementation\": ");
    put_cstr(w, h->implementation);
    PUT_LIT(w, ", \"pointer_size\": ");
    put_i64(w, h->pointer_size);
    PUT_LIT(w, ", \"gc_head_size\": ");
    put_i64(w, h->gc_head_size);
    PUT_LIT(w, ", \"pid\": ");
    put_i64(w, h->pid);
    PUT_LIT(w, ", \"time\": ");
    put_time(w, h->time);
    PUT_LIT(w, ", \"argv\": [");
    for (i = 0; i < h->argc && h->argv; i++) {
        if (i)
            PUT_LIT(w, ", ");
        put_cstr(w, h->argv[i]);
    }
    PUT_LIT(w, "], \"entry\": ");
    put_cstr(w, h->entry_point);
    PUT_LIT(w, ", \"value_limit\": ");
    if (w->value_limit == SIZE_MAX)
        PUT_LIT(w, "null");
    else
        put_u64(w, w->value_limit);
    if (w->omit_values)
        PUT_LIT(w, ", \"values\": false, \"roots\": [");
    else
        PUT_LIT(w, ", \"values\": true, \"roots\": [");
    for (i = 0; i < h->nroots && h->roots; i++) {
        const mel_root *r = &h->roots[i];
        if (i)
            PUT_LIT(w, ", ");
        PUT_LIT(w, "{\"kind\": ");
        put_cstr(w, r->kind);
        if (r->name) {
            PUT_LIT(w, ", \"name\": ");
            put_cstr(w, r->name);
        }
        PUT_LIT(w, ", \"address\": ");
        put_u64(w, r->address);
        PUT_LIT(w, "}");
    }
    PUT_LIT(w, "]}\n");
    return w->sys_errno ? MEL_EIO : MEL_OK;
}

int mel_writer_object(mel_writer *w, const mel_object *o)
{
    size_t i;

    if (!w || !o || (o->nrefs && !o->refs) || (o->kv_pairs && 2 * o->kv_pairs > o->nrefs))
        return MEL_EINVAL;
    if (w->sys_errno)
        return MEL_EIO;
    w->objects_started = 1;
    PUT_LIT(w, "{\"address\": ");
    put_u64(w, o->address);
    PUT_LIT(w, ", \"type\": ");
    put_cstr(w, o->type_name);
    PUT_LIT(w, ", \"size\": ");
    put_u64(w, o->size);
    if (o->name.data) {
        PUT_LIT(w, ", \"name\": ");
        put_text(w, &o->name, 0);
    }
    if (o->qualname.data) {
        PUT_LIT(w, ", \"qualname\": ");
        put_text(w, &o->qualname, 0);
    }
    if (o->len >= 0) {
        PUT_LIT(w, ", \"len\": ");
        put_i64(w, o->len);
    }
    switch (o->value_kind) {
    case MEL_VALUE_TEXT:
        if (!w->omit_values) {
            PUT_LIT(w, ", \"value\": ");
            put_text(w, &o->value, w->value_limit == SIZE_MAX ? 0 : w->value_limit);
        }
        break;
    case MEL_VALUE_INT:
        if (!w->omit_values) {
            PUT_LIT(w, ", \"value\": ");
            put_i64(w, o->value_int);
        }
        break;
    case MEL_VALUE_BOOL:
        if (o->value_int)
            PUT_LIT(w, ", \"value\": \"True\"");
        else
            PUT_LIT(w, ", \"value\": \"False\"");
        break;
    case MEL_VALUE_NULL:
        if (!w->omit_values)
            PUT_LIT(w, ", \"value\": null");
        break;
    default:
        break;
    }
    if (o->type_address) {
        PUT_LIT(w, ", \"type_addr\": ");
        put_u64(w, o->type_address);
    }
    if (o->flags & MEL_OBJ_STATIC)
        PUT_LIT(w, ", \"static\": true");
    if (o->kv_pairs) {
        PUT_LIT(w, ", \"kv\": ");
        put_u64(w, o->kv_pairs);
    }
    PUT_LIT(w, ", \"refs\": [");
    for (i = 0; i < o->nrefs; i++) {
        char *p = reserve(w, MAX_NUMBER + 2);
        if (i) {
            p[0] = ',';
            p[1] = ' ';
            p += 2;
            w->len += 2;
        }
        w->len += format_u64(o->refs[i], p);
    }
    PUT_LIT(w, "]}\n");
    if (w->sys_errno)
        return MEL_EIO;
    w->count++;
    return MEL_OK;
}

int mel_writer_trailer(mel_writer *w)
{
    if (!w)
        return MEL_EINVAL;
    if (w->sys_errno)
        return MEL_EIO;
    PUT_LIT(w, "{\"meliae\": \"end\", \"objects\": ");
    put_u64(w, w->count);
    if (w->incomplete)
        PUT_LIT(w, ", \"complete\": false}\n");
    else
        PUT_LIT(w, ", \"complete\": true}\n");
    return drain(w);
}
