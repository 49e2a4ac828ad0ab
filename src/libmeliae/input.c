/*
 * input.c - byte sources for the loader: paths, file descriptors and pipes,
 * plain or compressed (gzip via zlib; zstd via libzstd when built with
 * MEL_HAVE_ZSTD).  Compression is detected from the first bytes, whatever
 * the file is called.  Data is read in 4 MiB chunks and streamed into the
 * loader: the file is never held in memory whole.
 *
 * A large plain regular file is parsed in two halves at once: the file is
 * cut after the newline nearest its middle, a second thread parses the
 * second half into a loader of its own while the calling thread parses the
 * first, and the second loader's results are appended to the first.  When
 * the halves cannot be merged exactly (a bad line, a header or trailer in
 * the wrong half, ...) the file is parsed again in one piece, so errors,
 * line numbers and reports never depend on the split.
 */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include "loader_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#ifdef MEL_HAVE_ZSTD
#include <zstd.h>
#endif

#define CHUNK ((size_t)4 << 20)
#define SPLIT_SCAN ((size_t)1 << 20) /* how far past the middle to look for '\n' */
#define HALF_CHUNK ((size_t)1 << 18)  /* read size of each half (stays in L2) */

static uint64_t split_min = (uint64_t)32 << 20;

void mel__load_set_split_min(uint64_t bytes)
{
    split_min = bytes;
}

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

/* One half of a split file: bytes [from, to) of fd (to = UINT64_MAX: up to
 * the end of the file) fed into l. */
typedef struct half {
    int fd;
    uint64_t from, to;
    uint64_t scale_num, scale_den; /* progress: bytes read scaled to the file */
    uint64_t total;
    const char *name;
    mel_loader *l;
    mel_error err;
    int rc;
    atomic_int *stop;              /* set when the other half failed */
} half;

static int half_feed(half *h)
{
    unsigned char *buf = mel__malloc(NULL, HALF_CHUNK);
    uint64_t off = h->from;
    int rc = MEL_OK;

    if (!buf)
        return mel__fail(&h->err, MEL_ENOMEM, "out of memory");
    while (off < h->to && !atomic_load_explicit(h->stop, memory_order_relaxed)) {
        size_t want = h->to - off < HALF_CHUNK ? (size_t)(h->to - off) : HALF_CHUNK;
        ssize_t r;
        do {
            r = pread(h->fd, buf, want, (off_t)off);
        } while (r < 0 && errno == EINTR);
        if (r < 0) {
            int e = errno;
            rc = mel__fail(&h->err, MEL_EIO, "read failed on %s", h->name);
            h->err.sys_errno = e;
            break;
        }
        if (r == 0)
            break;
        off += (uint64_t)r;
        if (h->scale_den)
            mel__loader_set_input(h->l, (off - h->from) * h->scale_num / h->scale_den, h->total);
        rc = mel_loader_feed(h->l, buf, (size_t)r, &h->err);
        if (rc)
            break;
    }
    if (!rc && h->to == UINT64_MAX)
        rc = mel__loader_flush(h->l, &h->err);
    mel__free(NULL, buf, HALF_CHUNK);
    if (rc)
        atomic_store_explicit(h->stop, 1, memory_order_relaxed);
    return rc;
}

static void *half_thread(void *arg)
{
    half *h = arg;
    h->rc = half_feed(h);
    return NULL;
}

/* Offset just after the first '\n' at or after mid (within SPLIT_SCAN
 * bytes), or 0 if there is none there. */
static uint64_t find_split(int fd, uint64_t mid)
{
    unsigned char buf[4096];
    const unsigned char *nl;
    uint64_t off;

    for (off = mid; off - mid < SPLIT_SCAN;) {
        ssize_t r;
        do {
            r = pread(fd, buf, sizeof buf, (off_t)off);
        } while (r < 0 && errno == EINTR);
        if (r <= 0)
            return 0;
        nl = memchr(buf, '\n', (size_t)r);
        if (nl)
            return off + (uint64_t)(nl - buf) + 1;
        off += (uint64_t)r;
    }
    return 0;
}

/* Loads bytes [base, end-of-file) of a plain regular file of size end
 * through positioned reads, in two halves on two threads when the file
 * can be cut at a newline, else (or when the halves cannot be merged
 * exactly) in one piece on the calling thread. */
static int load_split(int fd, uint64_t base, uint64_t end, const mel_load_options *o,
                      mel_graph **out, mel_load_report *report, mel_error *err)
{
    mel_load_options o2 = *o;
    half h1, h2;
    pthread_t th;
    atomic_int stop;
    uint64_t cut;
    int rc, started = 0;

    memset(&h1, 0, sizeof h1);
    memset(&h2, 0, sizeof h2);
    atomic_init(&stop, 0);
    h1.fd = h2.fd = fd;
    h1.name = h2.name = o->source_name;
    h1.stop = h2.stop = &stop;
    h1.total = end - base;
    cut = find_split(fd, base + (end - base) / 2);
    if (cut > base && cut < end) {
        o2.progress = NULL;
        o2.progress_ctx = NULL;
        rc = mel_loader_new(o, &h1.l);
        if (!rc)
            rc = mel_loader_new(&o2, &h2.l);
        if (rc) {
            rc = mel__fail(err, rc, "cannot create a loader");
            goto done;
        }
        h1.from = base;
        h1.to = cut;
        h1.scale_num = end - base;
        h1.scale_den = cut - base;
        h2.from = cut;
        h2.to = UINT64_MAX;
        if (pthread_create(&th, NULL, half_thread, &h2) == 0) {
            started = 1;
            h1.rc = half_feed(&h1);
            pthread_join(th, NULL);
            started = 0;
            if (h1.rc) {
                /* the first half starts at line 1: its failure is exact */
                if (err)
                    *err = h1.err;
                rc = h1.rc;
                goto done;
            }
            if (!h2.rc) {
                rc = mel__loader_merge(h1.l, h2.l);
                if (rc < 0) {
                    rc = mel__fail(err, rc, "out of memory");
                    goto done;
                }
                if (rc == 0) {
                    mel_loader_free(h2.l);
                    h2.l = NULL;
                    mel__loader_set_input(h1.l, end - base, end - base);
                    rc = mel_loader_finish(h1.l, out, report, err);
                    goto done;
                }
            }
        }
        /* one piece after all: a fresh loader from the first byte */
        mel_loader_free(h1.l);
        mel_loader_free(h2.l);
        h1.l = h2.l = NULL;
        atomic_store(&stop, 0);
    }
    rc = mel_loader_new(o, &h1.l);
    if (rc) {
        rc = mel__fail(err, rc, "cannot create a loader");
        goto done;
    }
    memset(&h1.err, 0, sizeof h1.err);
    h1.from = base;
    h1.to = UINT64_MAX;
    h1.scale_num = h1.scale_den = 1;
    rc = half_feed(&h1);
    if (rc) {
        if (err)
            *err = h1.err;
        goto done;
    }
    rc = mel_loader_finish(h1.l, out, report, err);
done:
    if (started)
        pthread_join(th, NULL);
    mel_loader_free(h1.l);
    mel_loader_free(h2.l);
    return rc;
}

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
    if (s.total >= split_min && !o.alloc) {
        /* a large regular file: plain text goes to the two-thread load
         * without a first chunk read here */
        off_t pos = lseek(fd, 0, SEEK_CUR);
        unsigned char magic[4];
        ssize_t r;
        do {
            r = pos >= 0 ? pread(fd, magic, sizeof magic, pos) : -1;
        } while (r < 0 && errno == EINTR);
        if (r == (ssize_t)sizeof magic && (uint64_t)pos < s.total &&
            !(magic[0] == 0x1f && magic[1] == 0x8b) &&
            !(magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd))
            return load_split(fd, (uint64_t)pos, s.total, &o, out, report, err);
    }
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
