/* SPDX-License-Identifier: MPL-2.0 */
/* Group commit of single call events: the events that requests on
 * different threads bring at the same moment are taken in together, in
 * one transaction (cti_ingest_batch), and each request is answered after
 * that transaction's commit with its own event's result. A phone system
 * posts one event per request (Zammad's Generic CTI always does), and a
 * transaction's fixed statements (BEGIN, the locks, the reading of the
 * calls, the writes, COMMIT, the live hub's read after it) then cost about
 * as much as an event's own work (tools/bench cti).
 *
 * Nothing waits on purpose: a thread that finds no group being taken in
 * takes its event in at once (it leads); events that come while groups
 * are being taken in wait for the next group, which one of their threads
 * leads. */
#ifndef KTD_CORE_CTI_GROUP_H
#define KTD_CORE_CTI_GROUP_H

#include "core/core_common.h"
#include "core/cti.h"

#include <libpq-fe.h>

struct cti_group;

/* What groups have been taken in so far (for GET /metrics). */
struct cti_group_stats {
	uint64_t transactions; /* groups committed or rolled back */
	uint64_t events;       /* events in them */
	uint64_t alone;        /* events taken in alone after their group
	                        * failed */
	unsigned waiting;      /* events waiting for a group now */
};

/* At most max_events events a group, at most max_leaders groups taken in
 * at the same time (each on its leader's connection). */
struct cti_group *cti_group_create(size_t max_events, unsigned max_leaders);
void cti_group_free(struct cti_group *g);

/* Takes in one event, as cti_ingest does and with its results and errors,
 * together with the events other threads bring meanwhile. pg: this
 * thread's connection (no transaction open), used when this thread leads
 * its group. g NULL: cti_ingest. Blocks until the event's group has
 * committed, or until the event was taken in alone: when a group fails,
 * each of its events is taken in again alone by its own thread, so that
 * only the event at fault is refused. */
int cti_group_ingest(struct cti_group *g, PGconn *pg, const struct cti_event *e,
                     const struct cti_config *cfg, struct cti_result *out,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

void cti_group_stats(struct cti_group *g, struct cti_group_stats *st);

#endif
