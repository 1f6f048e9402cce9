/* SPDX-License-Identifier: MPL-2.0 */
/* Phone numbers and the derivation of a call from its events, in any
 * order. */
#include "core/core_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/call.h"

static void test_numbers(void **state)
{
	static const struct {
		const char *in;
		int kind;
		const char *out;
	} cases[] = {
	        {"12345678", CALL_NUMBER_E164, "+4512345678"},
	        {"12 34 56 78", CALL_NUMBER_E164, "+4512345678"},
	        {"+45 36 37 38 39", CALL_NUMBER_E164, "+4536373839"},
	        {"004536373839", CALL_NUMBER_E164, "+4536373839"},
	        {"4536373839", CALL_NUMBER_E164, "+4536373839"},
	        {"493012345678", CALL_NUMBER_E164, "+493012345678"},
	        {"+49 (30) 123-456/78", CALL_NUMBER_E164, "+493012345678"},
	        {"201", CALL_NUMBER_EXTENSION, "201"},
	        {"4711", CALL_NUMBER_EXTENSION, "4711"},
	        {"", CALL_NUMBER_ANONYMOUS, "anonymous"},
	        {"anonymous", CALL_NUMBER_ANONYMOUS, "anonymous"},
	        {"Unknown", CALL_NUMBER_ANONYMOUS, "anonymous"},
	        {"WITHHELD", CALL_NUMBER_ANONYMOUS, "anonymous"},
	        {"+", -1, NULL},
	        {"+0123456789", -1, NULL},
	        {"+123", -1, NULL},
	        {"1234567", -1, NULL},    /* 7 digits: neither */
	        {"0123456789", -1, NULL}, /* trunk prefix */
	        {"1234567890123456", -1, NULL},
	        {"12a45678", -1, NULL},
	        {"12345678;", -1, NULL},
	        {"1+2345678", -1, NULL},
	        {"++4512345678", -1, NULL},
	        {"12345678901234567890123456", -1, NULL},
	};
	char out[CALL_NUMBER_SIZE];
	size_t i;

	(void)state;
	for (i = 0; i < KTD_N_ELEMENTS(cases); i++) {
		int k = call_number_normalise(cases[i].in, out);

		assert_int_equal(k, cases[i].kind);
		if (k >= 0)
			assert_string_equal(out, cases[i].out);
	}
}

static void test_event_names(void **state)
{
	int i;

	(void)state;
	for (i = 0; i < CALL_EV_N; i++)
		assert_int_equal(call_event_parse(call_event_name(i)), i);
	assert_int_equal(call_event_parse("newCall"), -1);
	assert_int_equal(call_event_parse(""), -1);
	assert_int_equal(call_event_parse(NULL), -1);
}

#define S(x) ((int64_t)(x)*1000000)

/* Derives ev in every rotation and reversed: the result must not
 * depend on the order. */
static void derive_any_order(const struct call_event *ev, size_t n,
                             struct call_state *st)
{
	struct call_event buf[16];
	struct call_state other;
	size_t r, i;

	assert_true(n <= KTD_N_ELEMENTS(buf));
	call_derive(ev, n, st);
	for (r = 1; r <= n; r++) {
		for (i = 0; i < n; i++)
			buf[i] = r < n ? ev[(i + r) % n] : ev[n - 1 - i];
		call_derive(buf, n, &other);
		assert_string_equal(other.state, st->state);
		assert_int_equal(other.offered_us, st->offered_us);
		assert_int_equal(other.answered_us, st->answered_us);
		assert_int_equal(other.ended_us, st->ended_us);
		assert_int_equal(other.wait_ms, st->wait_ms);
		assert_int_equal(other.talk_ms, st->talk_ms);
		assert_int_equal(other.transfers, st->transfers);
		if (st->outcome)
			assert_string_equal(other.outcome, st->outcome);
		else
			assert_null(other.outcome);
	}
}

static void test_answered_and_transferred(void **state)
{
	const struct call_event ev[] = {
	        {CALL_EV_OFFERED, S(100), NULL, NULL, "1", NULL},
	        {CALL_EV_QUEUED, S(101), NULL, NULL, "1", NULL},
	        {CALL_EV_ANSWERED, S(135), "agnete", NULL, NULL, NULL},
	        {CALL_EV_TRANSFERRED, S(160), NULL, "4711", NULL, NULL},
	        {CALL_EV_ENDED, S(171), NULL, NULL, NULL, "normalClearing"},
	};
	struct call_state st;

	(void)state;
	derive_any_order(ev, KTD_N_ELEMENTS(ev), &st);
	assert_string_equal(st.state, "ended");
	assert_string_equal(st.outcome, "transferred");
	assert_int_equal(st.wait_ms, 35000);
	assert_int_equal(st.talk_ms, 36000);
	assert_string_equal(st.answered_by, "agnete");
	assert_string_equal(st.transferred_to, "4711");
	assert_string_equal(st.queue, "1");
	assert_int_equal(st.queued_us, S(101));
	assert_string_equal(st.end_cause, "normalClearing");

	/* Still going: no outcome, no talk time yet. */
	call_derive(ev, 3, &st);
	assert_string_equal(st.state, "answered");
	assert_null(st.outcome);
	assert_int_equal(st.talk_ms, -1);
	call_derive(ev, 2, &st);
	assert_string_equal(st.state, "queued");
	assert_int_equal(st.wait_ms, -1);
	call_derive(ev, 0, &st);
	assert_string_equal(st.state, "offered");
}

static void test_outcomes(void **state)
{
	const struct call_event abandoned[] = {
	        {CALL_EV_OFFERED, S(10), NULL, NULL, NULL, NULL},
	        {CALL_EV_ENDED, S(52), NULL, NULL, NULL, "cancel"},
	};
	const struct call_event callback[] = {
	        {CALL_EV_OFFERED, S(10), NULL, NULL, NULL, NULL},
	        {CALL_EV_CALLBACK_REQUESTED, S(40), NULL, NULL, NULL, NULL},
	        {CALL_EV_ENDED, S(41), NULL, NULL, NULL, "normalClearing"},
	};
	const struct call_event returned[] = {
	        {CALL_EV_OFFERED, S(10), NULL, NULL, NULL, NULL},
	        {CALL_EV_ANSWERED, S(20), "a", NULL, NULL, NULL},
	        {CALL_EV_TRANSFERRED, S(30), NULL, "4711", NULL, NULL},
	        {CALL_EV_TRANSFER_RETURNED, S(60), NULL, "4711", NULL, NULL},
	        {CALL_EV_ENDED, S(90), NULL, NULL, NULL, "normalClearing"},
	};
	const struct call_event diverted[] = {
	        {CALL_EV_OFFERED, S(10), NULL, NULL, NULL, NULL},
	        {CALL_EV_ANSWERED, S(20), "a", NULL, NULL, NULL},
	        {CALL_EV_TRANSFERRED, S(30), NULL, "4711", NULL, NULL},
	        {CALL_EV_DIVERTED, S(60), NULL, "4711", NULL, NULL},
	        {CALL_EV_ENDED, S(90), NULL, NULL, NULL, "normalClearing"},
	};
	const struct call_event again[] = {
	        {CALL_EV_OFFERED, S(10), NULL, NULL, NULL, NULL},
	        {CALL_EV_ANSWERED, S(20), "a", NULL, NULL, NULL},
	        {CALL_EV_TRANSFERRED, S(30), NULL, "4711", NULL, NULL},
	        {CALL_EV_TRANSFER_RETURNED, S(60), NULL, NULL, NULL, NULL},
	        {CALL_EV_TRANSFERRED, S(70), NULL, "5000", NULL, NULL},
	        {CALL_EV_ENDED, S(90), NULL, NULL, NULL, "normalClearing"},
	};
	const struct call_event plain[] = {
	        {CALL_EV_OFFERED, S(10), NULL, NULL, NULL, NULL},
	        {CALL_EV_ANSWERED, S(20), "a", NULL, NULL, NULL},
	        {CALL_EV_ENDED, S(20), NULL, NULL, NULL, "normalClearing"},
	};
	const struct call_event lost_end[] = {
	        {CALL_EV_OFFERED, S(10), NULL, NULL, NULL, NULL},
	        {CALL_EV_ANSWERED, S(20), "a", NULL, NULL, NULL},
	        {CALL_EV_ENDED, S(7200), NULL, NULL, NULL, "end_unknown"},
	};
	struct call_state st;

	(void)state;
	derive_any_order(abandoned, 2, &st);
	assert_string_equal(st.outcome, "abandoned");
	assert_int_equal(st.wait_ms, 42000);
	assert_int_equal(st.talk_ms, -1);
	derive_any_order(callback, 3, &st);
	assert_string_equal(st.outcome, "callback");
	assert_true(st.callback_requested);
	derive_any_order(returned, 5, &st);
	assert_string_equal(st.outcome, "returned");
	assert_int_equal(st.returns, 1);
	derive_any_order(diverted, 5, &st);
	assert_string_equal(st.outcome, "diverted");
	assert_int_equal(st.diversions, 1);
	derive_any_order(again, 6, &st);
	assert_string_equal(st.outcome, "transferred");
	assert_int_equal(st.transfers, 2);
	assert_string_equal(st.transferred_to, "5000");
	/* Answered and ended in the same second: answered first. */
	derive_any_order(plain, 3, &st);
	assert_string_equal(st.outcome, "answered");
	assert_int_equal(st.talk_ms, 0);
	derive_any_order(lost_end, 3, &st);
	assert_string_equal(st.outcome, "end_unknown");
	assert_int_equal(st.talk_ms, -1);
	assert_int_equal(st.wait_ms, 10000);
}

static void test_out_of_order_and_missing_offer(void **state)
{
	/* The offer has not arrived (yet): the call starts with the first
	 * event known; an end before the answer still ends answered. */
	const struct call_event ev[] = {
	        {CALL_EV_ENDED, S(90), NULL, NULL, NULL, "normalClearing"},
	        {CALL_EV_ANSWERED, S(20), "a", NULL, NULL, NULL},
	};
	struct call_state st;

	(void)state;
	derive_any_order(ev, 2, &st);
	assert_string_equal(st.state, "ended");
	assert_int_equal(st.offered_us, S(20));
	assert_int_equal(st.wait_ms, 0);
	assert_int_equal(st.talk_ms, 70000);
	assert_string_equal(st.outcome, "answered");
}

static void test_patterns(void **state)
{
	struct ktd_error err;
	char out[CALL_NUMBER_SIZE];

	(void)state;
	assert_true(call_pattern_matches("4989*", "+498999998145"));
	assert_true(call_pattern_matches("+4989*", "498999998145"));
	assert_true(call_pattern_matches("+4536373839", "+4536373839"));
	assert_false(call_pattern_matches("+4536373839", "+45363738390"));
	assert_false(call_pattern_matches("4989*", "+4930"));
	assert_true(call_pattern_matches("*", "anything") == false);

	assert_int_equal(call_pattern_list_check("", &err), 0);
	assert_int_equal(call_pattern_list_check(" +4512345678 ,4930*", &err),
	                 0);
	assert_int_equal(call_pattern_list_check("4512, abc", &err), -1);
	assert_non_null(strstr(err.msg, "'abc'"));
	assert_int_equal(call_pattern_list_check("45*12", &err), -1);
	assert_int_equal(call_pattern_list_check("*", &err), -1);
	assert_int_equal(call_pattern_list_check("4512,", &err), -1);
	assert_true(call_pattern_list_matches("+4512345678, 4930*",
	                                      "+493055571600"));
	assert_true(
	        call_pattern_list_matches("+4512345678, 4930*", "+4512345678"));
	assert_false(
	        call_pattern_list_matches("+4512345678, 4930*", "+4512345679"));
	assert_false(call_pattern_list_matches("", "+4512345679"));

	assert_int_equal(
	        call_caller_id_table_check(
	                "4989*=+498999998145, 4930*=493023125877", &err),
	        0);
	assert_int_equal(call_caller_id_table_check("4989*", &err), -1);
	assert_int_equal(call_caller_id_table_check("4989*=12", &err), -1);
	assert_true(call_caller_id_for("4989*=+498999998145, "
	                               "4930*=493023125877",
	                               "+493055571600", out));
	assert_string_equal(out, "+493023125877");
	assert_false(
	        call_caller_id_for("4989*=+498999998145", "+4512345678", out));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_numbers),
	        cmocka_unit_test(test_event_names),
	        cmocka_unit_test(test_patterns),
	        cmocka_unit_test(test_answered_and_transferred),
	        cmocka_unit_test(test_outcomes),
	        cmocka_unit_test(test_out_of_order_and_missing_offer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
