/* test_suspects.c - leak suspects on a dump whose module-level cache holds
 * ten sessions, each with a 500-byte buffer. */
#include "analysis_internal.h"
#include "mtest.h"
#include "mtest_dump.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* sys.modules (100) -> 'app' (50), module app (50) -> dict (100) with
 * 'cache' (50) -> cache dict (200) and 'other' (50) -> list (100).
 * cache = {i: Session (60) -> list (500)} for 10 sessions, int keys 28.
 * Heap total 6580; the cache retains 6080, each session 560. */
static mel_graph *cache_dump_with(int config)
{
    static char text[8192];
    size_t n = 0;
    int i;

#define ADD(...) n += (size_t)snprintf(text + n, sizeof text - n, __VA_ARGS__)
    ADD("{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0], "
        "\"roots\": [{\"kind\": \"modules\", \"name\": \"sys.modules\", \"address\": 1000}]}\n");
    ADD("{\"address\": 1000, \"type\": \"dict\", \"size\": 100, \"len\": 1, \"refs\": [1001, 1002]}\n");
    ADD("{\"address\": 1001, \"type\": \"str\", \"size\": 50, \"len\": 3, \"value\": \"app\", \"refs\": []}\n");
    ADD("{\"address\": 1002, \"type\": \"module\", \"size\": 50, \"name\": \"app\", \"refs\": [1003]}\n");
    if (config) /* also 'config' (50) -> a small dict (80) */
        ADD("{\"address\": 1003, \"type\": \"dict\", \"size\": 100, \"len\": 3, \"refs\": [1004, 1005, 1006, 1007, 1008, 1009]}\n"
            "{\"address\": 1008, \"type\": \"str\", \"size\": 50, \"len\": 6, \"value\": \"config\", \"refs\": []}\n"
            "{\"address\": 1009, \"type\": \"dict\", \"size\": 80, \"len\": 0, \"refs\": []}\n");
    else
        ADD("{\"address\": 1003, \"type\": \"dict\", \"size\": 100, \"len\": 2, \"refs\": [1004, 1005, 1006, 1007]}\n");
    ADD("{\"address\": 1004, \"type\": \"str\", \"size\": 50, \"len\": 5, \"value\": \"cache\", \"refs\": []}\n");
    ADD("{\"address\": 1006, \"type\": \"str\", \"size\": 50, \"len\": 5, \"value\": \"other\", \"refs\": []}\n");
    ADD("{\"address\": 1007, \"type\": \"list\", \"size\": 100, \"len\": 0, \"refs\": []}\n");
    ADD("{\"address\": 1005, \"type\": \"dict\", \"size\": 200, \"len\": 10, \"refs\": [");
    for (i = 0; i < 10; i++)
        ADD("%s%d, %d", i ? ", " : "", 2000 + i, 3000 + i);
    ADD("]}\n");
    for (i = 0; i < 10; i++) {
        ADD("{\"address\": %d, \"type\": \"int\", \"size\": 28, \"value\": %d, \"refs\": []}\n",
            2000 + i, i);
        ADD("{\"address\": %d, \"type\": \"Session\", \"size\": 60, \"refs\": [%d]}\n", 3000 + i,
            4000 + i);
        ADD("{\"address\": %d, \"type\": \"list\", \"size\": 500, \"len\": 0, \"refs\": []}\n",
            4000 + i);
    }
#undef ADD
    MT_CHECK(n < sizeof text);
    return mt_load_dump(text);
}

static mel_graph *cache_dump(void)
{
    return cache_dump_with(0);
}

static void test_cache_suspects_with(int config)
{
    mel_graph *g = cache_dump_with(config);
    mel_suspect_report *r = NULL;
    size_t tlen;

    if (!g)
        return;
    MT_EQ_INT(mel_suspects(g, 0.10, 0, &r), MEL_OK);
    if (!r)
        goto done;
    /* with 'config', the module's dict dominates two dicts (the cache and
     * config, 6210 B): the cache alone is the story, so no "2 dict objects" */
    MT_EQ_INT(r->total, config ? 6710 : 6580);
    MT_EQ_INT(r->n, 2);
    if (r->n == 2) {
        const mel_suspect *a = &r->items[0], *b = &r->items[1];
        /* the cache: the deepest object holding at least 10% */
        MT_EQ_INT(a->kind, MEL_SUSPECT_OBJECT);
        MT_EQ_INT(mel_graph_address(g, a->node), 1005);
        MT_EQ_INT(a->retained, 6080);
        MT_EQ_INT(a->count, 1);
        MT_EQ_STR(a->path_text, "sys.modules['app'].__dict__['cache']");
        MT_EQ_INT(a->path_len, 4);
        /* the ten sessions under it */
        MT_EQ_INT(b->kind, MEL_SUSPECT_GROUP);
        MT_EQ_INT(mel_graph_address(g, b->node), 1005);
        MT_EQ_STR(mel_graph_type_name(g, b->type_id, &tlen), "Session");
        MT_EQ_INT(b->count, 10);
        MT_EQ_INT(b->retained, 5600);
        if (config)
            MT_CHECK(b->fraction > 0.834 && b->fraction < 0.835);
        else
            MT_CHECK(b->fraction > 0.85 && b->fraction < 0.852);
        MT_EQ_STR(b->path_text, "sys.modules['app'].__dict__['cache']");
    }
done:
    mel_suspect_report_free(r);
    mel_graph_free(g);
}

static void test_cache_suspects(void)
{
    test_cache_suspects_with(0);
    test_cache_suspects_with(1);
}

static void test_lower_threshold(void)
{
    mel_graph *g = cache_dump();
    mel_suspect_report *r = NULL;
    size_t k, lists = 0;

    if (!g)
        return;
    /* at 5% each 500-byte list (7.6%) is the deepest big object: ten of
     * them, plus the session group; nothing above them is a leaf */
    MT_EQ_INT(mel_suspects(g, 0.05, 0, &r), MEL_OK);
    if (!r)
        goto done;
    MT_EQ_INT(r->n, 11);
    for (k = 0; k < r->n; k++) {
        if (r->items[k].kind == MEL_SUSPECT_OBJECT) {
            lists++;
            MT_EQ_INT(r->items[k].retained, 500);
        }
        if (k > 0)
            MT_CHECK(r->items[k - 1].retained >= r->items[k].retained);
    }
    MT_EQ_INT(lists, 10);
    MT_EQ_STR(r->items[1].path_text, "sys.modules['app'].__dict__['cache'][0]->"
                                     "<list at 0xfa0>");
    mel_suspect_report_free(r);
    r = NULL;
    MT_EQ_INT(mel_suspects(g, 0.05, 3, &r), MEL_OK);
    if (r) {
        MT_EQ_INT(r->n, 3);
        MT_EQ_INT(r->items[0].kind, MEL_SUSPECT_GROUP);
    }
done:
    mel_suspect_report_free(r);
    mel_graph_free(g);
}

/* Twenty unreferenced blobs (50 B each) form the biggest group, but one
 * held only by the roots: it comes after the items a holder accumulates. */
static void test_rootless_groups_last(void)
{
    static char text[4096];
    size_t n = 0;
    mel_graph *g;
    mel_suspect_report *r = NULL;
    size_t tlen;
    int i;

#define ADD(...) n += (size_t)snprintf(text + n, sizeof text - n, __VA_ARGS__)
    ADD("{\"address\": 1, \"type\": \"Holder\", \"size\": 10, \"refs\": [2]}\n");
    ADD("{\"address\": 2, \"type\": \"list\", \"size\": 10, \"len\": 2, \"refs\": [3, 4]}\n");
    ADD("{\"address\": 3, \"type\": \"Item\", \"size\": 400, \"refs\": []}\n");
    ADD("{\"address\": 4, \"type\": \"Item\", \"size\": 400, \"refs\": []}\n");
    for (i = 0; i < 20; i++)
        ADD("{\"address\": %d, \"type\": \"Blob\", \"size\": 50, \"refs\": []}\n", 100 + i);
#undef ADD
    g = mt_load_dump(text);
    if (!g)
        return;
    MT_EQ_INT(mel_suspects(g, 0.10, 0, &r), MEL_OK);
    if (r) {
        MT_EQ_INT(r->total, 1820);
        MT_EQ_INT(r->n, 4);
    }
    if (r && r->n == 4) {
        MT_EQ_INT(r->items[0].kind, MEL_SUSPECT_GROUP);
        MT_EQ_INT(mel_graph_address(g, r->items[0].node), 2);
        MT_EQ_INT(r->items[0].retained, 800);
        MT_EQ_INT(r->items[1].kind, MEL_SUSPECT_OBJECT);
        MT_EQ_INT(r->items[2].kind, MEL_SUSPECT_OBJECT);
        MT_EQ_INT(r->items[3].kind, MEL_SUSPECT_GROUP);
        MT_EQ_INT(r->items[3].node, MEL_NONE);
        MT_EQ_INT(r->items[3].retained, 1000);
        MT_EQ_INT(r->items[3].count, 20);
        MT_EQ_STR(mel_graph_type_name(g, r->items[3].type_id, &tlen), "Blob");
    }
    mel_suspect_report_free(r);
    mel_graph_free(g);
}

static void test_bad_arguments(void)
{
    mel_graph *g = cache_dump();
    mel_suspect_report *r = NULL;

    if (!g)
        return;
    MT_EQ_INT(mel_suspects(g, 0.0, 0, &r), MEL_EINVAL);
    MT_EQ_INT(mel_suspects(g, 1.5, 0, &r), MEL_EINVAL);
    MT_EQ_INT(mel_suspects(NULL, 0.1, 0, &r), MEL_EINVAL);
    MT_CHECK(r == NULL);
    /* a single object holding everything: at 100% only the leaf qualifies */
    MT_EQ_INT(mel_suspects(g, 1.0, 0, &r), MEL_OK);
    if (r) {
        MT_EQ_INT(r->n, 1);
        if (r->n == 1)
            MT_EQ_INT(mel_graph_address(g, r->items[0].node), 1000);
    }
    mel_suspect_report_free(r);
    mel_graph_free(g);
}

int main(void)
{
    MT_RUN(test_cache_suspects);
    MT_RUN(test_lower_threshold);
    MT_RUN(test_rootless_groups_last);
    MT_RUN(test_bad_arguments);
    return MT_END();
}
