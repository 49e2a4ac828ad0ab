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

#endif
