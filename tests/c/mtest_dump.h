/* mtest_dump.h - load a graph from a dump held in a string, for the engine
 * tests.  Include after mtest.h; needs meliae.h. */
#ifndef MTEST_DUMP_H
#define MTEST_DUMP_H
#include "meliae.h"
#include "mtest.h"

#include <string.h>

/* Loads text (a whole dump) in strict mode.  Every step is checked with
 * MT_EQ_INT; returns the graph (the caller frees it with mel_graph_free) or
 * NULL when loading failed. */
static inline mel_graph *mt_load_dump(const char *text)
{
    mel_loader *l = NULL;
    mel_graph *g = NULL;
    mel_error err;
    mel_load_options opts;

    memset(&opts, 0, sizeof opts);
    memset(&err, 0, sizeof err);
    opts.strict = 1;
    MT_EQ_INT(mel_loader_new(&opts, &l), MEL_OK);
    if (!l)
        return NULL;
    MT_EQ_INT(mel_loader_feed(l, text, strlen(text), &err), MEL_OK);
    MT_EQ_INT(mel_loader_finish(l, &g, NULL, &err), MEL_OK);
    mel_loader_free(l);
    return g;
}

#endif
