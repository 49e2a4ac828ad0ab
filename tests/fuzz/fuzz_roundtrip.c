/*
 * fuzz_roundtrip.c - fuzz target: records -> writer -> reader -> compare.
 *
 * The input bytes are decoded into a header and up to FZ_MAX_OBJECTS object
 * records (addresses, type names, sizes, lengths, text in every storage kind
 * with surrogates and NULs, ints, bools, names, refs, kv pairs, the static
 * flag).  The writer turns them into a dump in memory; the loader reads it
 * back in strict mode and every field must come back as docs/format.md says:
 * text truncated to value_limit code points (bytes to value_limit bytes),
 * surrogate pairs joined, lone surrogates kept (WTF-8), values dropped in a
 * redacted dump except bools.  A mismatch aborts.
 */
#include "fuzz_targets.h"

#include "meliae.h"

#include <string.h>

#define FZ_MAX_OBJECTS 48
#define FZ_MAX_REFS 8
#define FZ_MAX_TEXT 96
#define FZ_MAX_ROOTS 3

/* Cursor over the fuzz input; reads past the end give zeros. */
typedef struct fz_in {
    const uint8_t *p;
    size_t n;
} fz_in;

static uint8_t rt_u8(fz_in *in)
{
    uint8_t b = 0;
    if (in->n) {
        b = *in->p++;
        in->n--;
    }
    return b;
}

static uint64_t rt_u64(fz_in *in, unsigned nbytes)
{
    uint64_t v = 0;
    unsigned i;
    for (i = 0; i < nbytes; i++)
        v = (v << 8) | rt_u8(in);
    return v;
}

/* Growable output buffer, the writer's sink. */
typedef struct fz_out {
    uint8_t *buf;
    size_t len, cap;
} fz_out;

static int rt_sink(void *ctx, const void *buf, size_t len)
{
    fz_out *o = ctx;
    if (o->len + len > o->cap) {
        size_t cap = o->cap ? o->cap : 4096;
        uint8_t *nb;
        while (cap < o->len + len)
            cap *= 2;
        nb = realloc(o->buf, cap);
        if (!nb)
            return 12; /* ENOMEM */
        o->buf = nb;
        o->cap = cap;
    }
    memcpy(o->buf + o->len, buf, len);
    o->len += len;
    return 0;
}

/* One generated record and the storage its pointers borrow. */
typedef struct rt_obj {
    mel_object o;
    char type_name[24];
    uint16_t u16[FZ_MAX_TEXT];
    uint32_t u32[FZ_MAX_TEXT];
    uint8_t u8[FZ_MAX_TEXT];
    char name[24];
    uint64_t refs[FZ_MAX_REFS];
} rt_obj;

static const char *const rt_types[] = {"str", "bytes", "int", "tuple", "list", "Foo",
                                       "module", "function", "frame", "set", "float",
                                       "bool", "builtins.weird"};
#define RT_NTYPES (sizeof rt_types / sizeof rt_types[0])

/* Appends code point c to a UTF-8 (WTF-8 for surrogates) buffer. */
static size_t rt_put_utf8(uint8_t *dst, uint32_t c)
{
    if (c < 0x80) {
        dst[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        dst[0] = (uint8_t)(0xc0 | (c >> 6));
        dst[1] = (uint8_t)(0x80 | (c & 0x3f));
        return 2;
    }
    if (c < 0x10000) {
        dst[0] = (uint8_t)(0xe0 | (c >> 12));
        dst[1] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
        dst[2] = (uint8_t)(0x80 | (c & 0x3f));
        return 3;
    }
    dst[0] = (uint8_t)(0xf0 | (c >> 18));
    dst[1] = (uint8_t)(0x80 | ((c >> 12) & 0x3f));
    dst[2] = (uint8_t)(0x80 | ((c >> 6) & 0x3f));
    dst[3] = (uint8_t)(0x80 | (c & 0x3f));
    return 4;
}

/* The code point at position i of a text in any kind. */
static uint32_t rt_unit(const mel_text *t, size_t i)
{
    switch (t->kind) {
    case MEL_TEXT_UCS2: return ((const uint16_t *)t->data)[i];
    case MEL_TEXT_UCS4: return ((const uint32_t *)t->data)[i];
    default: return ((const uint8_t *)t->data)[i];
    }
}

/* What a reader must return for t truncated to limit units: UTF-8 with
 * adjacent high+low surrogates joined into one code point (JSON's rule). */
static size_t rt_expected(const mel_text *t, size_t limit, uint8_t *dst)
{
    size_t n = t->len < limit ? t->len : limit, i, len = 0;
    for (i = 0; i < n; i++) {
        uint32_t c = rt_unit(t, i);
        if (c >= 0xd800 && c < 0xdc00 && i + 1 < n) {
            uint32_t d = rt_unit(t, i + 1);
            if (d >= 0xdc00 && d < 0xe000) {
                c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
                i++;
            }
        }
        len += rt_put_utf8(dst + len, c);
    }
    return len;
}

/* Fills a text of kind from the input: mostly ASCII, with the interesting
 * code points (quotes, backslash, controls, NUL, surrogates, non-BMP). */
static void rt_text(fz_in *in, rt_obj *r, mel_text *t, size_t len)
{
    static const uint32_t special[] = {'"', '\\', '/', 0, 0x1f, 0x7f, 0xff, 0x20ac, 0xd83d,
                                       0xde00, 0xdfff, 0xfffd, 0x1f600, 0x10ffff, '\n', 'u'};
    int kind = rt_u8(in) % 4;
    size_t i;

    t->len = len;
    t->kind = kind == 0 ? MEL_TEXT_LATIN1 : kind == 1 ? MEL_TEXT_UCS2
              : kind == 2 ? MEL_TEXT_UCS4 : MEL_TEXT_BYTES;
    for (i = 0; i < len; i++) {
        uint8_t b = rt_u8(in);
        uint32_t c = (b & 0x80) ? special[b & 0x0f] : (uint32_t)(0x20 + (b % 0x5f));
        if (b >= 0xf0)
            c = rt_u8(in);
        switch (t->kind) {
        case MEL_TEXT_UCS2: r->u16[i] = (uint16_t)(c > 0xffff ? 0xd83d : c); break;
        case MEL_TEXT_UCS4: r->u32[i] = c; break;
        default: r->u8[i] = (uint8_t)(c > 0xff ? (c & 0xff) : c); break;
        }
    }
    t->data = t->kind == MEL_TEXT_UCS2 ? (const void *)r->u16
              : t->kind == MEL_TEXT_UCS4 ? (const void *)r->u32 : (const void *)r->u8;
}

/* Decodes one record; returns 0 if its address was already taken. */
static int rt_decode(fz_in *in, rt_obj *objs, size_t nobj, rt_obj *r)
{
    uint8_t shape = rt_u8(in), t = rt_u8(in);
    size_t i, nrefs;
    mel_object *o = &r->o;

    memset(o, 0, sizeof *o);
    o->address = (shape & 1) ? rt_u64(in, 8) : 0x7f0000000000ull + 16 * rt_u64(in, 2);
    for (i = 0; i < nobj; i++)
        if (objs[i].o.address == o->address)
            return 0;
    if (t < 0xe0) {
        snprintf(r->type_name, sizeof r->type_name, "%s", rt_types[t % RT_NTYPES]);
    } else {
        size_t k, m = 1 + t % 12;
        for (k = 0; k < m; k++)
            r->type_name[k] = (char)('A' + rt_u8(in) % 26);
        r->type_name[m] = '\0';
    }
    o->type_name = r->type_name;
    o->type_address = (shape & 2) ? rt_u64(in, 8) : 0;
    o->size = (shape & 4) ? rt_u64(in, 8) : rt_u64(in, 2);
    o->len = (shape & 8) ? (int64_t)(rt_u64(in, 4) & 0x7fffffff) : -1;
    o->flags = (shape & 16) ? MEL_OBJ_STATIC : 0;
    if (strcmp(r->type_name, "bool") == 0) {
        o->value_kind = MEL_VALUE_BOOL;
        o->value_int = rt_u8(in) & 1;
    } else {
        switch ((shape >> 5) & 7) {
        case 1:
        case 2:
            o->value_kind = MEL_VALUE_TEXT;
            rt_text(in, r, &o->value, rt_u8(in) % FZ_MAX_TEXT);
            break;
        case 3:
            o->value_kind = MEL_VALUE_INT;
            o->value_int = (int64_t)rt_u64(in, 8);
            break;
        case 4: {
            size_t k, m = rt_u8(in) % 16;
            for (k = 0; k < m; k++)
                r->name[k] = (char)('a' + rt_u8(in) % 26);
            r->name[m] = '\0';
            o->name.data = r->name;
            o->name.len = m;
            o->name.kind = MEL_TEXT_UTF8;
            break;
        }
        default:
            o->value_kind = MEL_VALUE_NONE;
        }
    }
    nrefs = rt_u8(in) % (FZ_MAX_REFS + 1);
    for (i = 0; i < nrefs; i++) {
        uint8_t how = rt_u8(in);
        if (nobj > 0 && how < 0xc0)
            r->refs[i] = objs[how % nobj].o.address;
        else if (how < 0xe0)
            r->refs[i] = o->address;
        else
            r->refs[i] = rt_u64(in, 8);
    }
    o->refs = r->refs;
    o->nrefs = nrefs;
    o->kv_pairs = (rt_u8(in) & 1) ? nrefs / 2 : 0;
    return 1;
}

/* Checks one loaded node against the record it came from. */
static void rt_compare(const mel_graph *g, uint32_t i, const rt_obj *r, size_t limit,
                       int omit)
{
    const mel_object *o = &r->o;
    uint32_t nch = 0, k;
    const uint32_t *ch = mel_graph_children(g, i, &nch);
    size_t tlen = 0, elen;
    const char *tn = mel_graph_type_name(g, mel_graph_type(g, i), &tlen);
    uint8_t want[4 * FZ_MAX_TEXT + 4];
    mel_value v;

    MEL_FUZZ_CHECK(mel_graph_address(g, i) == o->address);
    MEL_FUZZ_CHECK(tn != NULL && tlen == strlen(o->type_name));
    MEL_FUZZ_CHECK(memcmp(tn, o->type_name, tlen) == 0);
    MEL_FUZZ_CHECK(mel_graph_size(g, i) == o->size);
    MEL_FUZZ_CHECK(mel_graph_len(g, i) == (o->len < 0 ? -1 : o->len));
    MEL_FUZZ_CHECK(!!(mel_graph_flags(g, i) & MEL_NODE_STATIC) == !!(o->flags & MEL_OBJ_STATIC));
    MEL_FUZZ_CHECK(mel_graph_kv_pairs(g, i) == o->kv_pairs);
    MEL_FUZZ_CHECK(nch == o->nrefs);
    for (k = 0; k < nch && k < o->nrefs; k++)
        MEL_FUZZ_CHECK(mel_graph_address(g, ch[k]) == o->refs[k]);

    memset(&v, 0, sizeof v);
    mel_graph_value(g, i, &v);
    if (o->name.data) {
        MEL_FUZZ_CHECK(v.kind == MEL_VALUE_TEXT && v.is_name);
        MEL_FUZZ_CHECK(v.text_len == o->name.len);
        MEL_FUZZ_CHECK(v.text_len == 0 || memcmp(v.text, o->name.data, v.text_len) == 0);
        return;
    }
    switch (o->value_kind) {
    case MEL_VALUE_BOOL:
        MEL_FUZZ_CHECK(v.kind == MEL_VALUE_BOOL && v.i == o->value_int);
        break;
    case MEL_VALUE_INT:
        if (omit) {
            MEL_FUZZ_CHECK(v.kind == MEL_VALUE_NONE);
            break;
        }
        MEL_FUZZ_CHECK(v.kind == MEL_VALUE_INT && v.i == o->value_int);
        break;
    case MEL_VALUE_TEXT:
        if (omit) {
            MEL_FUZZ_CHECK(v.kind == MEL_VALUE_NONE);
            break;
        }
        elen = rt_expected(&o->value, limit, want);
        MEL_FUZZ_CHECK(v.kind == MEL_VALUE_TEXT && !v.is_name);
        MEL_FUZZ_CHECK(v.text_len == elen);
        MEL_FUZZ_CHECK(elen == 0 || memcmp(v.text, want, elen) == 0);
        break;
    default:
        MEL_FUZZ_CHECK(v.kind == MEL_VALUE_NONE);
    }
}

int mel_fuzz_roundtrip(const uint8_t *data, size_t size)
{
    static rt_obj objs[FZ_MAX_OBJECTS];
    fz_in in = {data, size};
    fz_out out = {NULL, 0, 0};
    mel_writer_options wopts;
    mel_dump_header h;
    mel_root roots[FZ_MAX_ROOTS];
    const char *argv[2] = {"app.py", "--flag=\"x\""};
    mel_writer *w = NULL;
    mel_load_options lopts;
    mel_loader *l = NULL;
    mel_graph *g = NULL;
    mel_load_report rep;
    mel_error err;
    size_t nobj = 0, want, i, limit;
    uint8_t opt = rt_u8(&in);
    int rc;

    memset(&wopts, 0, sizeof wopts);
    wopts.value_limit = (opt & 1) ? 16 + rt_u8(&in) % 200 : 0;
    wopts.omit_values = (opt >> 1) & 1;
    wopts.buffer_size = (opt & 4) ? 1 + rt_u8(&in) : 0;
    if (opt & 0x80)
        wopts.value_limit = SIZE_MAX;
    limit = wopts.value_limit ? wopts.value_limit : 100;

    want = rt_u8(&in) % (FZ_MAX_OBJECTS + 1);
    while (nobj < want && in.n > 0)
        nobj += (size_t)rt_decode(&in, objs, nobj, &objs[nobj]);

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
    h.nroots = (opt >> 3) % (FZ_MAX_ROOTS + 1);
    for (i = 0; i < h.nroots; i++) {
        roots[i].kind = i == 0 ? "modules" : i == 1 ? "thread" : "other";
        roots[i].name = i == 2 ? NULL : "sys.modules";
        roots[i].address = nobj ? objs[(opt + i) % nobj].o.address : 1234;
    }
    h.roots = roots;

    rc = mel_writer_new(NULL, rt_sink, &out, &wopts, &w);
    MEL_FUZZ_CHECK(rc == MEL_OK);
    rc = mel_writer_header(w, &h);
    MEL_FUZZ_CHECK(rc == MEL_OK);
    for (i = 0; i < nobj; i++) {
        rc = mel_writer_object(w, &objs[i].o);
        MEL_FUZZ_CHECK(rc == MEL_OK);
    }
    MEL_FUZZ_CHECK(mel_writer_count(w) == nobj);
    if (opt & 0x40)
        mel_writer_mark_incomplete(w);
    rc = mel_writer_trailer(w);
    MEL_FUZZ_CHECK(rc == MEL_OK);
    MEL_FUZZ_CHECK(mel_writer_errno(w) == 0);
    mel_writer_free(w);

    memset(&lopts, 0, sizeof lopts);
    lopts.strict = 1;
    lopts.source_name = "roundtrip";
    memset(&rep, 0, sizeof rep);
    memset(&err, 0, sizeof err);
    rc = mel_loader_new(&lopts, &l);
    MEL_FUZZ_CHECK(rc == MEL_OK);
    rc = mel_loader_feed(l, out.buf, out.len, &err);
    if (rc == MEL_OK)
        rc = mel_loader_finish(l, &g, &rep, &err);
    mel_loader_free(l);
    if (nobj == 0) {
        /* A dump with a header and no object is empty input, or a valid
         * empty graph; anything else is wrong. */
        MEL_FUZZ_CHECK(rc == MEL_OK || rc == MEL_EEMPTY);
        goto done;
    }
    if (rc != MEL_OK) {
        fprintf(stderr, "roundtrip load failed: %s (%s) at line %llu column %llu\n",
                mel_strerror(rc), err.detail, (unsigned long long)err.line,
                (unsigned long long)err.column);
        MEL_FUZZ_CHECK(rc == MEL_OK);
    }
    MEL_FUZZ_CHECK(rep.has_header && rep.has_trailer);
    MEL_FUZZ_CHECK(rep.trailer_complete == !(opt & 0x40));
    MEL_FUZZ_CHECK(rep.trailer_objects == nobj);
    MEL_FUZZ_CHECK(rep.objects == nobj);
    MEL_FUZZ_CHECK(rep.bad_lines == 0 && rep.duplicates == 0);
    MEL_FUZZ_CHECK(!rep.classic && rep.format_major == MEL_FORMAT_MAJOR);
    MEL_FUZZ_CHECK(strcmp(rep.python_version, "3.11.7") == 0);
    MEL_FUZZ_CHECK(rep.pointer_size == 8);
    MEL_FUZZ_CHECK(mel_graph_count(g) == nobj);
    for (i = 0; i < nobj; i++)
        rt_compare(g, (uint32_t)i, &objs[i], limit, wopts.omit_values);
    MEL_FUZZ_CHECK(mel_graph_root_count(g) == h.nroots);
    for (i = 0; i < h.nroots && i < mel_graph_root_count(g); i++) {
        const char *kind = NULL, *name = NULL;
        uint32_t node = MEL_NONE;
        MEL_FUZZ_CHECK(mel_graph_root(g, i, &kind, &name, &node) == MEL_OK);
        MEL_FUZZ_CHECK(kind != NULL && strcmp(kind, roots[i].kind) == 0);
        MEL_FUZZ_CHECK(strcmp(name ? name : "", roots[i].name ? roots[i].name : "") == 0);
        MEL_FUZZ_CHECK(node != MEL_NONE && mel_graph_address(g, node) == roots[i].address);
    }
done:
    mel_graph_free(g);
    free(out.buf);
    return 0;
}

#ifndef MEL_FUZZ_NO_ENTRY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return mel_fuzz_roundtrip(data, size);
}
#endif
