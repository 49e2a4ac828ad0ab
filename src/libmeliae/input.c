/*
 * input.c - byte sources for the loader: paths, file descriptors and pipes,
 * plain or compressed (gzip via zlib; zstd via libzstd when built with
 * MEL_HAVE_ZSTD).  Compression is detected from the first bytes, whatever
 * the file is called.  Data is read in 4 MiB chunks and streamed into the
 * loader: the file is never held in memory whole.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "loader_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef MEL_HAVE_ZSTD
#include <zstd.h>
#endif

#define CHUNK ((size_t)4 << 20)

int mel_have_zstd(void)
{
#ifdef MEL_HAVE_ZSTD
    return 1;
#else
    return 0;
#endif
}

/* Reading state shared by the three decoders. */
typedef struct src {
    int fd;
    const char *name;
    mel_loader *l;
    mel_error *err;
    unsigned char *in;   /* owned: CHUNK bytes of raw input */
    size_t in_len;       /* bytes valid in in[] */
    uint64_t consumed;   /* raw bytes read so far */
    uint64_t total;      /* input size if a regular file, else 0 */
    int eof;
} src;

/* Reads more raw bytes into s->in (replacing its contents).  0 or MEL_EIO. */
static int src_read(src *s)
{
    ssize_t r;

    do {
        r = read(s->fd, s->in, CHUNK);
    } while (r < 0 && errno == EINTR);
    if (r < 0) {
        int e = errno;
        mel__fail(s->err, MEL_EIO, "read failed on %s", s->name);
        if (s->err)
            s->err->sys_errno = e;
        return MEL_EIO;
    }
    s->in_len = (size_t)r;
    s->eof = r == 0;
    s->consumed += (uint64_t)r;
    mel__loader_set_input(s->l, s->consumed, s->total);
    return MEL_OK;
}

/* Fills s->in with at least want bytes unless the input ends first. */
static int src_fill(src *s, size_t want)
{
    while (s->in_len < want && !s->eof) {
        ssize_t r;
        do {
            r = read(s->fd, s->in + s->in_len, CHUNK - s->in_len);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            int e = errno;
            mel__fail(s->err, MEL_EIO, "read failed on %s", s->name);
            if (s->err)
                s->err->sys_errno = e;
            return MEL_EIO;
        }
        if (r == 0)
            s->eof = 1;
        s->in_len += (size_t)r;
        s->consumed += (uint64_t)r;
    }
    mel__loader_set_input(s->l, s->consumed, s->total);
    return MEL_OK;
}

static int feed_plain(src *s)
{
    int rc;

    for (;;) {
        if (s->in_len) {
            rc = mel_loader_feed(s->l, s->in, s->in_len, s->err);
            if (rc)
                return rc;
        }
        if (s->eof)
            return MEL_OK;
        rc = src_read(s);
        if (rc)
            return rc;
        if (s->eof)
            return MEL_OK;
    }
}

static voidpf z_alloc(voidpf opaque, uInt items, uInt size)
{
    return mel__calloc((const mel_allocator *)opaque, items, size);
}

static void z_free(voidpf opaque, voidpf p)
{
    mel__free((const mel_allocator *)opaque, p, 0);
}

static int feed_gzip(src *s, const mel_allocator *a, unsigned char *out)
{
    z_stream zs;
    int zr, rc = MEL_OK, ended = 0;

    memset(&zs, 0, sizeof zs);
    zs.zalloc = a ? z_alloc : Z_NULL;
    zs.zfree = a ? z_free : Z_NULL;
    zs.opaque = (voidpf)a;
    if (inflateInit2(&zs, 15 + 32) != Z_OK)
        return mel__fail(s->err, MEL_ENOMEM, "cannot start gzip decoding");
    zs.next_in = s->in;
    zs.avail_in = (uInt)s->in_len;
    for (;;) {
        if (zs.avail_in == 0) {
            if (s->eof)
                break;
            rc = src_read(s);
            if (rc)
                goto done;
            if (s->eof)
                break;
            zs.next_in = s->in;
            zs.avail_in = (uInt)s->in_len;
        }
        if (ended) {
            /* another gzip member follows (concatenated .gz files) */
            if (inflateReset(&zs) != Z_OK) {
                rc = mel__fail(s->err, MEL_ECOMPRESS, "gzip reset failed");
                goto done;
            }
            ended = 0;
        }
        zs.next_out = out;
        zs.avail_out = (uInt)CHUNK;
        zr = inflate(&zs, Z_NO_FLUSH);
        if (zr == Z_MEM_ERROR) {
            rc = mel__fail(s->err, MEL_ENOMEM, "out of memory in gzip decoding");
            goto done;
        }
        if (zr != Z_OK && zr != Z_STREAM_END && zr != Z_BUF_ERROR) {
            if (CHUNK - zs.avail_out) {
                rc = mel_loader_feed(s->l, out, CHUNK - zs.avail_out, s->err);
                if (rc)
                    goto done;
            }
            rc = mel__loader_stream_error(s->l, MEL_ECOMPRESS,
                                          zs.msg ? zs.msg : "corrupt gzip data", s->err);
            ended = 1;
            goto done;
        }
        if (CHUNK - zs.avail_out) {
            rc = mel_loader_feed(s->l, out, CHUNK - zs.avail_out, s->err);
            if (rc)
                goto done;
        }
        if (zr == Z_STREAM_END)
            ended = 1;
    }
    if (!ended)
        rc = mel__loader_stream_error(s->l, MEL_ECOMPRESS, "gzip stream cut short", s->err);
done:
    inflateEnd(&zs);
    return rc;
}

#ifdef MEL_HAVE_ZSTD
static int feed_zstd(src *s, unsigned char *out)
{
    ZSTD_DCtx *dc = ZSTD_createDCtx();
    ZSTD_inBuffer ib;
    size_t zr = 0;
    int rc = MEL_OK;

    if (!dc)
        return mel__fail(s->err, MEL_ENOMEM, "cannot start zstd decoding");
    ib.src = s->in;
    ib.size = s->in_len;
    ib.pos = 0;
    for (;;) {
        ZSTD_outBuffer ob;
        if (ib.pos == ib.size) {
            if (s->eof)
                break;
            rc = src_read(s);
            if (rc)
                goto done;
            if (s->eof)
                break;
            ib.src = s->in;
            ib.size = s->in_len;
            ib.pos = 0;
        }
        ob.dst = out;
        ob.size = CHUNK;
        ob.pos = 0;
        zr = ZSTD_decompressStream(dc, &ob, &ib);
        if (ZSTD_isError(zr)) {
            rc = mel__loader_stream_error(s->l, MEL_ECOMPRESS, ZSTD_getErrorName(zr), s->err);
            zr = 0;
            goto done;
        }
        if (ob.pos) {
            rc = mel_loader_feed(s->l, out, ob.pos, s->err);
            if (rc)
                goto done;
        }
    }
    /* flush what the decoder still holds */
    for (;;) {
        ZSTD_outBuffer ob;
        ob.dst = out;
        ob.size = CHUNK;
        ob.pos = 0;
        ib.src = s->in;
        ib.size = 0;
        ib.pos = 0;
        zr = ZSTD_decompressStream(dc, &ob, &ib);
        if (ZSTD_isError(zr))
            break;
        if (ob.pos) {
            rc = mel_loader_feed(s->l, out, ob.pos, s->err);
            if (rc)
                goto done;
        }
        if (ob.pos < ob.size)
            break;
    }
    if (zr != 0)
        rc = mel__loader_stream_error(s->l, MEL_ECOMPRESS, "zstd stream cut short", s->err);
done:
    ZSTD_freeDCtx(dc);
    return rc;
}
#endif

int mel_load_fd(int fd, const mel_load_options *opts, mel_graph **out, mel_load_report *report,
                mel_error *err)
{
    const mel_allocator *a = opts ? opts->alloc : NULL;
    mel_load_options o;
    mel_loader *l = NULL;
    unsigned char *out_buf = NULL;
    struct stat st;
    src s;
    int rc;

    if (out)
        *out = NULL;
    if (report)
        memset(report, 0, sizeof *report);
    if (err)
        memset(err, 0, sizeof *err);
    if (!out || fd < 0)
        return mel__fail(err, MEL_EINVAL, "bad file descriptor or output");
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    if (!o.source_name)
        o.source_name = "<fd>";
    memset(&s, 0, sizeof s);
    s.fd = fd;
    s.name = o.source_name;
    s.err = err;
    if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
        s.total = (uint64_t)st.st_size;
    rc = mel_loader_new(&o, &l);
    if (rc) {
        rc = mel__fail(err, rc, "cannot create a loader");
        goto done;
    }
    s.l = l;
    s.in = mel__malloc(a, CHUNK);
    if (!s.in) {
        rc = mel__fail(err, MEL_ENOMEM, "out of memory");
        goto done;
    }
    rc = src_fill(&s, 4);
    if (rc)
        goto done;
    if (s.in_len >= 2 && s.in[0] == 0x1f && s.in[1] == 0x8b) {
        out_buf = mel__malloc(a, CHUNK);
        if (!out_buf) {
            rc = mel__fail(err, MEL_ENOMEM, "out of memory");
            goto done;
        }
        rc = feed_gzip(&s, a, out_buf);
    } else if (s.in_len >= 4 && s.in[0] == 0x28 && s.in[1] == 0xb5 && s.in[2] == 0x2f &&
               s.in[3] == 0xfd) {
#ifdef MEL_HAVE_ZSTD
        out_buf = mel__malloc(a, CHUNK);
        if (!out_buf) {
            rc = mel__fail(err, MEL_ENOMEM, "out of memory");
            goto done;
        }
        rc = feed_zstd(&s, out_buf);
#else
        rc = mel__fail(err, MEL_EUNSUPPORTED, "%s is zstd-compressed; this build has no zstd",
                       s.name);
#endif
    } else {
        rc = feed_plain(&s);
    }
    if (rc)
        goto done;
    rc = mel_loader_finish(l, out, report, err);
done:
    mel__free(a, s.in, CHUNK);
    mel__free(a, out_buf, CHUNK);
    mel_loader_free(l);
    return rc;
}

int mel_load_path(const char *path, const mel_load_options *opts, mel_graph **out,
                  mel_load_report *report, mel_error *err)
{
    mel_load_options o;
    int fd, rc;

    if (out)
        *out = NULL;
    if (err)
        memset(err, 0, sizeof *err);
    if (!path || !out)
        return mel__fail(err, MEL_EINVAL, "null path or output");
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    if (!o.source_name)
        o.source_name = strcmp(path, "-") == 0 ? "<stdin>" : path;
    if (strcmp(path, "-") == 0)
        return mel_load_fd(0, &o, out, report, err);
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        int e = errno;
        mel__fail(err, MEL_EIO, "cannot open %s: %s", path, strerror(e));
        if (err)
            err->sys_errno = e;
        return MEL_EIO;
    }
    rc = mel_load_fd(fd, &o, out, report, err);
    close(fd);
    return rc;
}
