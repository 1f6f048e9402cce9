/* SPDX-License-Identifier: MPL-2.0 */
/* The rules of calls that need no database: phone numbers as the phone
 * system reports them, the names of call events, and a call's state and
 * figures derived from all of its events. The derivation looks at the
 * whole set, never at the order of arrival, so the same events in any
 * order (or twice) give the same call. */
#ifndef KTD_CORE_CALL_H
#define KTD_CORE_CALL_H

#include "core/core_common.h"

/* Bytes of a normalised number, with the NUL. */
#define CALL_NUMBER_SIZE 24

enum call_number_kind {
	CALL_NUMBER_E164,      /* "+4512345678" */
	CALL_NUMBER_EXTENSION, /* a short internal number, "201" */
	CALL_NUMBER_ANONYMOUS, /* withheld: "anonymous" */
};

/* Normalises a number from a phone system: separators (space - . / ( ))
 * dropped; "+" or "00" and digits is international; a Danish 8-digit
 * number gets +45; 9 to 15 digits are taken as international without
 * the plus (as some PBXs send them); 1 to 6 digits are an extension;
 * empty, "anonymous", "unknown", "withheld", "restricted", "private"
 * (any case) are withheld. Returns the kind with the number in out, or
 * -1 for anything else. */
int call_number_normalise(const char *s, char out[CALL_NUMBER_SIZE])
        KTD_ATTR_NODISCARD;

/* Number patterns of the [cti] lists: digits, compared without a leading
 * '+' ("4536373839" and "+4536373839" are the same number), with an
 * optional trailing '*' for "starts with" ("4989*"). */
bool call_pattern_matches(const char *pattern, const char *number);

/* A comma-separated list of patterns ("+4512345678, 4930*"); spaces
 * around entries are ignored; "" is the empty list. Returns 0, or -1 with
 * KTD_ERR_INVALID naming the entry. */
int call_pattern_list_check(const char *list, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
/* Whether number matches an entry of list. */
bool call_pattern_list_matches(const char *list, const char *number);

/* A comma-separated table "PATTERN=CALLERID, ..." (the outbound caller id
 * by destination, as Zammad's generic CTI keeps it). Returns 0 or -1
 * with the entry named. */
int call_caller_id_table_check(const char *table, struct ktd_error *err)
        KTD_ATTR_NODISCARD;
/* The caller id of the first entry whose pattern matches number, into
 * out (CALL_NUMBER_SIZE); false when none does. */
bool call_caller_id_for(const char *table, const char *number,
                        char out[CALL_NUMBER_SIZE]);

enum call_event_type {
	CALL_EV_OFFERED,
	CALL_EV_QUEUED,
	CALL_EV_ANSWERED,
	CALL_EV_TRANSFERRED,
	CALL_EV_TRANSFER_RETURNED,
	CALL_EV_DIVERTED,
	CALL_EV_CALLBACK_REQUESTED,
	CALL_EV_ENDED,
	CALL_EV_N
};

/* "offered", ...; -1 for an unknown name. */
int call_event_parse(const char *name) KTD_ATTR_NODISCARD;
const char *call_event_name(enum call_event_type t);

/* One event as stored; strings borrowed, NULL for none. */
struct call_event {
	enum call_event_type type;
	int64_t at_us; /* microseconds since the epoch */
	const char *agent;
	const char *target;
	const char *queue;
	const char *cause;
};

/* A call as its events make it. Times are microseconds since the epoch,
 * 0 for none; durations milliseconds, -1 when not known (yet). Strings
 * point into the events. */
struct call_state {
	const char *state; /* offered, queued, answered, ended */
	int64_t offered_us, queued_us, answered_us, ended_us;
	const char *answered_by;
	const char *queue;
	const char *transferred_to; /* the last transfer's target */
	unsigned transfers, returns, diversions;
	bool callback_requested;
	const char *end_cause;
	/* Once ended: abandoned (never answered), callback (never answered,
	 * a callback asked for), answered (handled without a transfer that
	 * stands), transferred (the last routing event is a transfer),
	 * returned (a transfer came back and the call ended there),
	 * diverted (an unanswered extension sent it back and it ended
	 * there). NULL while the call goes on. */
	const char *outcome;
	int64_t wait_ms, talk_ms;
};

/* Derives the call from its n events (any order). Events at the same
 * instant count in the order of the enum (offered before answered before
 * ended). */
void call_derive(const struct call_event *ev, size_t n, struct call_state *st);

#endif
