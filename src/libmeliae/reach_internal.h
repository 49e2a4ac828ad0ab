/*
 * reach_internal.h - the classic-order reachability walk shared by reach.c
 * and summary.c.  Not installed.
 */
#ifndef MEL_REACH_INTERNAL_H
#define MEL_REACH_INTERNAL_H

#include "graph_internal.h"

typedef void (*mel__reach_visit)(void *ctx, uint32_t node);

/* Walks every live node reachable from start[0..nstart) (a shared seen set:
 * later starts skip what earlier ones reached), calling visit once per node
 * in the classic order.  Nodes in excluded[] are neither visited nor walked.
 * Returns 0 or MEL_ENOMEM. */
int mel__reach_walk(const struct mel_graph *g, const uint32_t *start, size_t nstart,
                    const uint32_t *excluded, size_t nexcluded, mel__reach_visit visit,
                    void *ctx);

#endif
