/* SPDX-License-Identifier: MPL-2.0 */
/* Group commit of single call events (see cti_group.h).
 *
 * The waiting events form one queue, in the order they came. A thread
 * whose event waits leads a group when fewer than max_leaders groups are
 * being taken in: it takes the queue's first events (up to max_events, of
 * the same settings), takes them in on its own connection, and hands each
 * event's result to its thread. The other threads sleep on one condition
 * variable, woken when a group ends. Two groups taken in at the same time
 * never wait for each other in a circle: a batch locks its calls in one
 * order (cti.c). */
#include "core/core_common.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "lib/mem.h"
#include "core/cti_group.h"

enum entry_state {
	ENTRY_WAITING, /* in the queue */
	ENTRY_TAKEN,   /* in a group being taken in */
	ENTRY_DONE,    /* committed: out holds its result */
	ENTRY_FAILED,  /* taken in alone, and refused: err */
	ENTRY_ALONE,   /* its group failed: its thread takes it in alone */
};

struct entry {
	const struct cti_event *e;
	struct cti_config cfg;
	struct cti_result out;
	struct ktd_error err;
	enum entry_state state;
	struct entry *next;
};

struct cti_group {
	pthread_mutex_t mu;
	pthread_cond_t ended; /* a group has ended */
	struct entry *head;   /* the waiting events, oldest first */
	size_t max_events;
	unsigned leaders, max_leaders;
	struct cti_group_stats st;
};

struct cti_group *cti_group_create(size_t max_events, unsigned max_leaders)
{
	struct cti_group *g = ktd_calloc(1, sizeof(*g));

	pthread_mutex_init(&g->mu, NULL);
	pthread_cond_init(&g->ended, NULL);
	g->max_events = max_events ? max_events : 1;
	g->max_leaders = max_leaders ? max_leaders : 1;
	return g;
}

void cti_group_free(struct cti_group *g)
{
	if (!g)
		return;
	pthread_cond_destroy(&g->ended);
	pthread_mutex_destroy(&g->mu);
	free(g);
}

static bool same_config(const struct cti_config *a, const struct cti_config *b)
{
	return a->thread_window_s == b->thread_window_s &&
	       a->return_window_s == b->return_window_s;
}

/* Takes the queue's first events that share the first one's settings into
 * a group, leads it and hands out the results. Called and returns with
 * g->mu held; releases it while the group is taken in. */
static void lead(struct cti_group *g, PGconn *pg)
{
	struct entry **taken = ktd_calloc(g->max_events, sizeof(*taken));
	struct entry **pp = &g->head;
	struct cti_config cfg = g->head->cfg;
	struct cti_event *ev;
	struct cti_result *res;
	struct ktd_error err;
	size_t i, n = 0;
	int r;

	while (*pp && n < g->max_events) {
		struct entry *p = *pp;

		if (!same_config(&p->cfg, &cfg)) {
			pp = &p->next;
			continue;
		}
		*pp = p->next;
		p->next = NULL;
		p->state = ENTRY_TAKEN;
		taken[n++] = p;
	}
	g->leaders++;
	pthread_mutex_unlock(&g->mu);

	ev = ktd_calloc(n, sizeof(*ev));
	res = ktd_calloc(n, sizeof(*res));
	for (i = 0; i < n; i++)
		ev[i] = *taken[i]->e;
	memset(&err, 0, sizeof(err));
	r = cti_ingest_batch(pg, ev, n, &cfg, res, &err);
	if (r < 0 && n > 1) {
		char quoted[2 * KTD_ERROR_MSG_MAX + 8];

		ktd_log_info("event=cti_group_one_by_one events=%zu code=%s "
		             "msg=%s",
		             n, ktd_error_code_name(err.code),
		             ktd_log_quote(err.msg, quoted, sizeof(quoted)));
	}

	pthread_mutex_lock(&g->mu);
	g->leaders--;
	g->st.transactions++;
	g->st.events += n;
	for (i = 0; i < n; i++) {
		struct entry *p = taken[i];

		if (r == 0) {
			p->out = res[i];
			p->state = ENTRY_DONE;
		} else if (n == 1) {
			p->err = err;
			p->state = ENTRY_FAILED;
		} else {
			p->state = ENTRY_ALONE;
			g->st.alone++;
		}
	}
	pthread_cond_broadcast(&g->ended);
	free(res);
	free(ev);
	free(taken);
}

int cti_group_ingest(struct cti_group *g, PGconn *pg, const struct cti_event *e,
                     const struct cti_config *cfg, struct cti_result *out,
                     struct ktd_error *err)
{
	struct entry me, **pp;

	if (!g)
		return cti_ingest(pg, e, cfg, out, err);
	memset(&me, 0, sizeof(me));
	me.e = e;
	me.cfg = *cfg;
	me.state = ENTRY_WAITING;
	pthread_mutex_lock(&g->mu);
	for (pp = &g->head; *pp; pp = &(*pp)->next)
		;
	*pp = &me;
	while (me.state == ENTRY_WAITING || me.state == ENTRY_TAKEN) {
		if (me.state == ENTRY_WAITING && g->leaders < g->max_leaders)
			lead(g, pg);
		else
			pthread_cond_wait(&g->ended, &g->mu);
	}
	pthread_mutex_unlock(&g->mu);
	switch (me.state) {
	case ENTRY_DONE:
		*out = me.out;
		return 0;
	case ENTRY_FAILED:
		*err = me.err;
		return -1;
	default:
		/* Its group failed: alone, so that only the event at fault
		 * is refused. */
		return cti_ingest(pg, e, cfg, out, err);
	}
}

void cti_group_stats(struct cti_group *g, struct cti_group_stats *st)
{
	const struct entry *p;

	memset(st, 0, sizeof(*st));
	if (!g)
		return;
	pthread_mutex_lock(&g->mu);
	*st = g->st;
	for (p = g->head; p; p = p->next)
		st->waiting++;
	pthread_mutex_unlock(&g->mu);
}
