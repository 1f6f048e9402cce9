/* SPDX-License-Identifier: MPL-2.0 */
/* Phone numbers, call event names and the derivation of a call. */
#include "core/core_common.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "core/call.h"

static const char *const event_names[CALL_EV_N] = {
        [CALL_EV_OFFERED] = "offered",
        [CALL_EV_QUEUED] = "queued",
        [CALL_EV_ANSWERED] = "answered",
        [CALL_EV_TRANSFERRED] = "transferred",
        [CALL_EV_TRANSFER_RETURNED] = "transfer_returned",
        [CALL_EV_DIVERTED] = "diverted",
        [CALL_EV_CALLBACK_REQUESTED] = "callback_requested",
        [CALL_EV_ENDED] = "ended",
};

int call_event_parse(const char *name)
{
	int i;

	for (i = 0; name && i < CALL_EV_N; i++) {
		if (strcmp(name, event_names[i]) == 0)
			return i;
	}
	return -1;
}

const char *call_event_name(enum call_event_type t)
{
	return (unsigned)t < CALL_EV_N ? event_names[t] : "?";
}

int call_number_normalise(const char *s, char out[CALL_NUMBER_SIZE])
{
	static const char *const withheld[] = {"anonymous", "unknown",
	                                       "withheld",  "restricted",
	                                       "private",   NULL};
	char digits[CALL_NUMBER_SIZE];
	size_t n = 0, i;
	bool plus = false;

	for (i = 0; withheld[i]; i++) {
		if (strcasecmp(s, withheld[i]) == 0)
			goto anonymous;
	}
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (n + 1 >= sizeof(digits))
				return -1;
			digits[n++] = *s;
		} else if (*s == '+' && n == 0 && !plus) {
			plus = true;
		} else if (!strchr(" -./()", *s)) {
			return -1;
		}
	}
	digits[n] = '\0';
	if (n == 0) {
		if (plus)
			return -1;
		goto anonymous;
	}
	if (!plus && n > 2 && digits[0] == '0' && digits[1] == '0') {
		/* 00 is the international prefix. */
		memmove(digits, digits + 2, n - 1);
		n -= 2;
		plus = true;
	}
	if (plus) {
		if (n < 7 || n > 15 || digits[0] == '0')
			return -1;
		out[0] = '+';
		memcpy(out + 1, digits, n + 1);
		return CALL_NUMBER_E164;
	}
	if (n == 8 && digits[0] != '0') {
		memcpy(out, "+45", 3);
		memcpy(out + 3, digits, n + 1);
		return CALL_NUMBER_E164;
	}
	if (n >= 9 && n <= 15 && digits[0] != '0') {
		out[0] = '+';
		memcpy(out + 1, digits, n + 1);
		return CALL_NUMBER_E164;
	}
	if (n <= 6) {
		memcpy(out, digits, n + 1);
		return CALL_NUMBER_EXTENSION;
	}
	return -1;
anonymous:
	ktd_strlcpy(out, "anonymous", CALL_NUMBER_SIZE);
	return CALL_NUMBER_ANONYMOUS;
}

/* The digits of number without a leading '+'. */
static const char *digits_of(const char *number)
{
	return number[0] == '+' ? number + 1 : number;
}

/* One pattern of n bytes: 1 to 15 digits after an optional '+', then an
 * optional '*'. */
static bool pattern_valid(const char *p, size_t n)
{
	size_t i = 0, d = 0;

	if (n > 0 && p[0] == '+')
		i++;
	for (; i < n && p[i] >= '0' && p[i] <= '9'; i++)
		d++;
	if (i < n && p[i] == '*')
		i++;
	return i == n && d >= 1 && d <= 15;
}

static bool pattern_matches_n(const char *p, size_t n, const char *number)
{
	const char *num = digits_of(number);
	bool prefix;

	if (n > 0 && p[0] == '+') {
		p++;
		n--;
	}
	prefix = n > 0 && p[n - 1] == '*';
	if (prefix)
		n--;
	if (n == 0 || strncmp(num, p, n) != 0)
		return false;
	return prefix || num[n] == '\0';
}

bool call_pattern_matches(const char *pattern, const char *number)
{
	return pattern_matches_n(pattern, strlen(pattern), number);
}

/* Calls fn for each trimmed entry of the comma-separated list; stops at
 * the first that returns false and returns false then. */
static bool each_entry(const char *list,
                       bool (*fn)(const char *e, size_t n, void *arg),
                       void *arg)
{
	const char *p = list;

	if (!*p)
		return true; /* the empty list */
	for (;;) {
		size_t n = strcspn(p, ",");
		const char *e = p;
		bool last = p[n] != ',';

		while (n > 0 && *e == ' ') {
			e++;
			n--;
		}
		while (n > 0 && e[n - 1] == ' ')
			n--;
		if (!fn(e, n, arg))
			return false;
		if (last)
			return true;
		p += strcspn(p, ",") + 1;
	}
}

struct check_arg {
	bool table;
	struct ktd_error *err;
};

static bool check_entry(const char *e, size_t n, void *arg)
{
	struct check_arg *a = arg;
	const char *eq = a->table ? memchr(e, '=', n) : NULL;
	char out[CALL_NUMBER_SIZE], id[CALL_NUMBER_SIZE];
	size_t pn = eq ? (size_t)(eq - e) : n, idn;
	bool ok = pattern_valid(e, pn);

	if (ok && a->table) {
		idn = eq ? n - pn - 1 : 0;
		ok = eq && idn > 0 && idn < sizeof(id);
		if (ok) {
			memcpy(id, eq + 1, idn);
			id[idn] = '\0';
			ok = call_number_normalise(id, out) == CALL_NUMBER_E164;
		}
	}
	if (!ok)
		ktd_error_set(a->err, KTD_ERR_INVALID, "entry '%.*s' is not %s",
		              (int)(n > 40 ? 40 : n), e,
		              a->table ? "PATTERN=CALLERID (4930*=+4930123456)"
		                       : "a number or a prefix* (4930*)");
	return ok;
}

int call_pattern_list_check(const char *list, struct ktd_error *err)
{
	struct check_arg a = {false, err};

	return each_entry(list, check_entry, &a) ? 0 : -1;
}

int call_caller_id_table_check(const char *table, struct ktd_error *err)
{
	struct check_arg a = {true, err};

	return each_entry(table, check_entry, &a) ? 0 : -1;
}

struct match_arg {
	const char *number;
	bool table;
	bool found;
	char *out;
};

static bool match_entry(const char *e, size_t n, void *arg)
{
	struct match_arg *a = arg;
	const char *eq = a->table ? memchr(e, '=', n) : NULL;
	size_t pn = eq ? (size_t)(eq - e) : n;
	char id[CALL_NUMBER_SIZE];
	size_t idn;

	if (a->table && !eq)
		return true;
	if (!pattern_matches_n(e, pn, a->number))
		return true;
	if (a->table) {
		idn = n - pn - 1;
		if (idn >= sizeof(id))
			return true;
		memcpy(id, eq + 1, idn);
		id[idn] = '\0';
		if (call_number_normalise(id, a->out) != CALL_NUMBER_E164)
			return true;
	}
	a->found = true;
	return false;
}

bool call_pattern_list_matches(const char *list, const char *number)
{
	struct match_arg a = {number, false, false, NULL};

	each_entry(list, match_entry, &a);
	return a.found;
}

bool call_caller_id_for(const char *table, const char *number,
                        char out[CALL_NUMBER_SIZE])
{
	struct match_arg a = {number, true, false, out};

	each_entry(table, match_entry, &a);
	return a.found;
}

static int by_time(const void *a, const void *b)
{
	const struct call_event *x = *(const struct call_event *const *)a;
	const struct call_event *y = *(const struct call_event *const *)b;

	if (x->at_us != y->at_us)
		return x->at_us < y->at_us ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return 0;
}

void call_derive(const struct call_event *ev, size_t n, struct call_state *st)
{
	const struct call_event **sorted;
	enum call_event_type last_routing = CALL_EV_N;
	size_t i;

	memset(st, 0, sizeof(*st));
	st->wait_ms = st->talk_ms = -1;
	st->state = "offered";
	if (n == 0)
		return;
	sorted = ktd_malloc(n * sizeof(*sorted));
	for (i = 0; i < n; i++)
		sorted[i] = &ev[i];
	qsort(sorted, n, sizeof(*sorted), by_time);

	/* The call starts when it was offered, or, while the offer has not
	 * arrived, with the first event known. */
	st->offered_us = sorted[0]->at_us;
	for (i = 0; i < n; i++) {
		const struct call_event *e = sorted[i];

		if (e->queue && !st->queue)
			st->queue = e->queue;
		switch (e->type) {
		case CALL_EV_OFFERED:
			break;
		case CALL_EV_QUEUED:
			if (!st->queued_us)
				st->queued_us = e->at_us;
			break;
		case CALL_EV_ANSWERED:
			if (!st->answered_us) {
				st->answered_us = e->at_us;
				st->answered_by = e->agent;
			}
			break;
		case CALL_EV_TRANSFERRED:
			st->transfers++;
			st->transferred_to = e->target;
			last_routing = e->type;
			break;
		case CALL_EV_TRANSFER_RETURNED:
			st->returns++;
			last_routing = e->type;
			break;
		case CALL_EV_DIVERTED:
			st->diversions++;
			last_routing = e->type;
			break;
		case CALL_EV_CALLBACK_REQUESTED:
			st->callback_requested = true;
			break;
		case CALL_EV_ENDED:
			if (!st->ended_us) {
				st->ended_us = e->at_us;
				st->end_cause = e->cause;
			}
			break;
		case CALL_EV_N:
			break;
		}
	}
	free(sorted);

	if (st->answered_us)
		st->wait_ms = (st->answered_us - st->offered_us) / 1000;
	else if (st->ended_us)
		st->wait_ms = (st->ended_us - st->offered_us) / 1000;
	if (st->answered_us && st->ended_us && st->ended_us >= st->answered_us)
		st->talk_ms = (st->ended_us - st->answered_us) / 1000;

	if (!st->ended_us) {
		st->state = st->answered_us ? "answered"
		            : st->queued_us ? "queued"
		                            : "offered";
		return;
	}
	st->state = "ended";
	if (st->end_cause && strcmp(st->end_cause, "end_unknown") == 0) {
		/* Closed by the sweeper: how long it talked is not known. */
		st->outcome = "end_unknown";
		st->talk_ms = -1;
		if (st->answered_us == 0)
			st->wait_ms = -1;
		return;
	}
	if (!st->answered_us) {
		st->outcome = st->callback_requested ? "callback" : "abandoned";
		return;
	}
	switch (last_routing) {
	case CALL_EV_TRANSFERRED:
		st->outcome = "transferred";
		break;
	case CALL_EV_TRANSFER_RETURNED:
		st->outcome = "returned";
		break;
	case CALL_EV_DIVERTED:
		st->outcome = "diverted";
		break;
	default:
		st->outcome = "answered";
		break;
	}
}
