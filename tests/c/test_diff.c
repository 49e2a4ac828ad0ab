/* test_diff.c - the diff of two dumps, classic and current format. */
#include "analysis_internal.h"
#include "mtest.h"
#include "mtest_dump.h"

#include <stdlib.h>
#include <string.h>

/* a classic dump (no header, no type_addr) */
static const char *const OLD_DUMP =
    "{\"address\": 1, \"type\": \"dict\", \"size\": 100, \"len\": 1, \"refs\": [2]}\n"
    "{\"address\": 2, \"type\": \"list\", \"size\": 50, \"len\": 0, \"refs\": []}\n"
    "{\"address\": 3, \"type\": \"str\", \"size\": 40, \"len\": 1, \"value\": \"a\", \"refs\": []}\n"
    "{\"address\": 4, \"type\": \"Foo\", \"size\": 30, \"refs\": [9]}\n";

/* address 2 is reused by a tuple: not the same object */
static const char *const NEW_DUMP =
    "{\"meliae\": \"dump\", \"format\": \"meliae-dump\", \"version\": [2, 0]}\n"
    "{\"address\": 1, \"type\": \"dict\", \"size\": 120, \"len\": 1, \"refs\": [5]}\n"
    "{\"address\": 2, \"type\": \"tuple\", \"size\": 50, \"len\": 0, \"refs\": []}\n"
    "{\"address\": 3, \"type\": \"str\", \"size\": 40, \"len\": 1, \"value\": \"a\", \"refs\": []}\n"
    "{\"address\": 5, \"type\": \"list\", \"size\": 70, \"len\": 1, \"refs\": [6]}\n"
    "{\"address\": 6, \"type\": \"list\", \"size\": 80, \"len\": 1, \"refs\": [7]}\n"
    "{\"address\": 7, \"type\": \"Foo\", \"size\": 30, \"refs\": []}\n"
    "{\"meliae\": \"end\", \"objects\": 6, \"complete\": true}\n";

static const mel_diff_type *find(const mel_diff_report *r, const char *name)
{
    for (size_t k = 0; k < r->ntypes; k++)
        if (strcmp(r->types[k].name, name) == 0)
            return &r->types[k];
    return NULL;
}

static void test_diff_counts(void)
{
    mel_graph *a = mt_load_dump(OLD_DUMP), *b = mt_load_dump(NEW_DUMP);
    mel_diff_report *r = NULL;
    const mel_diff_type *d;

    if (!a || !b)
        goto done;
    MT_EQ_INT(mel_diff(a, b, &r), MEL_OK);
    if (!r)
        goto done;
    MT_EQ_INT(r->old_count, 4);
    MT_EQ_INT(r->old_size, 220);
    MT_EQ_INT(r->new_count, 6);
    MT_EQ_INT(r->new_size, 390);
    MT_EQ_INT(r->kept_count, 2);
    MT_EQ_INT(r->gone_count, 2);
    MT_EQ_INT(r->gone_size, 80);
    MT_EQ_INT(r->nadded, 4);
    if (r->nadded == 4) {
        MT_EQ_INT(mel_graph_address(b, r->added[0]), 6);
        MT_EQ_INT(mel_graph_address(b, r->added[1]), 5);
        MT_EQ_INT(mel_graph_address(b, r->added[2]), 2);
        MT_EQ_INT(mel_graph_address(b, r->added[3]), 7);
    }
    /* the missing node 9 of the old dump is no object and no type shows it */
    d = find(r, "<missing>");
    MT_CHECK(d == NULL || (d->old_count == 0 && d->new_count == 0));
    d = find(r, "list");
    MT_CHECK(d != NULL);
    if (d) {
        MT_EQ_INT(d->old_count, 1);
        MT_EQ_INT(d->new_count, 2);
        MT_EQ_INT(d->size_delta, 100);
        MT_EQ_INT(d->added_count, 2);
        MT_EQ_INT(d->added_size, 150);
    }
    d = find(r, "Foo");
    MT_CHECK(d != NULL);
    if (d) {
        MT_EQ_INT(d->count_delta, 0);
        MT_EQ_INT(d->added_count, 1); /* a different address */
    }
    d = find(r, "str");
    MT_CHECK(d != NULL);
    if (d)
        MT_EQ_INT(d->added_count, 0);
    MT_CHECK(r->ntypes >= 5);
    if (r->ntypes >= 5) {
        MT_EQ_STR(r->types[0].name, "list");
        MT_EQ_STR(r->types[1].name, "tuple");
        MT_EQ_STR(r->types[2].name, "dict");
        MT_EQ_INT(r->types[2].size_delta, 20);
    }
    /* the last types are those that shrank or stayed */
    MT_CHECK(r->types[r->ntypes - 1].size_delta <= 0);
done:
    mel_diff_report_free(r);
    mel_graph_free(a);
    mel_graph_free(b);
}

static void test_diff_with_itself(void)
{
    mel_graph *a = mt_load_dump(NEW_DUMP);
    mel_diff_report *r = NULL;

    if (!a)
        return;
    MT_EQ_INT(mel_diff(a, a, &r), MEL_OK);
    if (r) {
        MT_EQ_INT(r->nadded, 0);
        MT_EQ_INT(r->gone_count, 0);
        MT_EQ_INT(r->kept_count, 6);
        for (size_t k = 0; k < r->ntypes; k++)
            MT_EQ_INT(r->types[k].size_delta, 0);
    }
    mel_diff_report_free(r);
    MT_EQ_INT(mel_diff(a, NULL, &r), MEL_EINVAL);
    mel_graph_free(a);
}

static void test_diff_deleted_records(void)
{
    mel_graph *a = mt_load_dump(OLD_DUMP), *b = mt_load_dump(OLD_DUMP);
    mel_diff_report *r = NULL;

    if (!a || !b)
        goto done;
    /* a record deleted in the old graph counts as absent there */
    MT_EQ_INT(mel_graph_delete(a, mel_graph_lookup(a, 2)), MEL_OK);
    MT_EQ_INT(mel_diff(a, b, &r), MEL_OK);
    if (r) {
        MT_EQ_INT(r->old_count, 3);
        MT_EQ_INT(r->nadded, 1);
        if (r->nadded == 1)
            MT_EQ_INT(mel_graph_address(b, r->added[0]), 2);
    }
done:
    mel_diff_report_free(r);
    mel_graph_free(a);
    mel_graph_free(b);
}

int main(void)
{
    MT_RUN(test_diff_counts);
    MT_RUN(test_diff_with_itself);
    MT_RUN(test_diff_deleted_records);
    return MT_END();
}
