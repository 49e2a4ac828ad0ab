/*
 * loader_internal.h - what the input layer (input.c) tells the loader
 * (reader.c) beyond the public feed/finish calls.  Not installed.
 */
#ifndef MEL_LOADER_INTERNAL_H
#define MEL_LOADER_INTERNAL_H

#include "mel_internal.h"

/* Input bytes consumed so far (compressed bytes for .gz/.zst) and the input
 * size if known (0 if not), for progress reports. */
void mel__loader_set_input(mel_loader *l, uint64_t bytes_read, uint64_t bytes_total);

/* Records a stream-level problem (e.g. a gzip stream cut short) found after
 * the bytes fed so far.  In strict mode the loader fails with code; otherwise
 * it is counted as one bad line located at the current end of the stream.
 * Returns 0, or code when the loader is now failed. */
int mel__loader_stream_error(mel_loader *l, int code, const char *detail, mel_error *err);

/* Parses the last line if it has no '\n' (as mel_loader_finish does).
 * 0, or the loader's failure code (err filled). */
int mel__loader_flush(mel_loader *l, mel_error *err);

/* Appends everything the loader b parsed (the lines right after those a
 * parsed, both flushed) to a, as if a had parsed them itself: records,
 * refs, types, values, qualnames, line and byte counts, the trailer.  b
 * keeps nothing worth reading and is only freed afterwards.  Returns 0,
 * 1 when the two halves cannot be merged exactly (a bad line or a failure
 * in either, a trailer in a, a header in b, a limit exceeded: parse the
 * input again in one piece), or MEL_ENOMEM (a is unusable then). */
int mel__loader_merge(mel_loader *a, mel_loader *b);

/* Plain regular files of at least this many bytes are parsed by two
 * threads (input.c); 0 splits every file that can be split.  Not thread
 * safe: for tests. */
void mel__load_set_split_min(uint64_t bytes);

#endif
