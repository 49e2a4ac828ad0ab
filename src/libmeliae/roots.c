/*
 * roots.c - the children of the virtual super-root: the header's root
 * markers, then every live object no other object in the dump refers to
 * (a reference from an object to itself does not count).
 */
#include "analysis_internal.h"

#include <string.h>

int mel__root_list(const mel__digraph *g, const uint32_t *markers, size_t nmarkers,
                   const mel_allocator *a, uint32_t **out, size_t *nout)
{
    uint8_t *seen = NULL; /* bit 0: has a live referrer, bit 1: already listed */
    uint32_t *list = NULL;
    size_t cap = 0, k = 0;
    uint32_t v, j, d;
    int rc = MEL_ENOMEM;

    *out = NULL;
    *nout = 0;
    seen = mel__calloc(a, g->n ? g->n : 1, 1);
    if (!seen)
        goto done;
    for (v = 0; v < g->n; v++) {
        const uint32_t *s;
        if (mel__dg_dead(g, v))
            continue;
        s = mel__dg_succ(g, v);
        d = mel__dg_deg(g, v);
        for (j = 0; j < d; j++)
            if (s[j] != v) /* a self reference keeps nothing alive */
                seen[s[j]] |= 1;
    }
    cap = nmarkers;
    for (v = 0; v < g->n; v++)
        if (!(seen[v] & 1) && !mel__dg_dead(g, v))
            cap++;
    list = mel__calloc(a, cap ? cap : 1, sizeof *list);
    if (!list)
        goto done;
    for (size_t m = 0; m < nmarkers; m++) {
        v = markers[m];
        if (v >= g->n || mel__dg_dead(g, v) || (seen[v] & 2))
            continue;
        seen[v] |= 2;
        list[k++] = v;
    }
    for (v = 0; v < g->n; v++) {
        if ((seen[v] & 3) || mel__dg_dead(g, v))
            continue;
        seen[v] |= 2;
        list[k++] = v;
    }
    *out = list;
    *nout = k;
    list = NULL;
    rc = MEL_OK;
done:
    mel__free(a, list, cap * sizeof *list);
    mel__free(a, seen, g->n ? g->n : 1);
    return rc;
}
