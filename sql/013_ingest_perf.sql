-- SPDX-License-Identifier: MPL-2.0
-- Cheaper intake of calls and mail, with the same results: the live
-- event's payload (sql/008) and the case reference counter (sql/003) in
-- PL/pgSQL, and call and case updates that can be HOT.
--
-- The live event's payload.
--
-- A LANGUAGE sql function that cannot be inlined is planned anew at every
-- execution of the statement that calls it: ktd_live_payload and the
-- screen pop it calls were planned for every event, ~0.8 ms of the ~2 ms
-- PostgreSQL spent on a call event (pgbench -r on tools/bench-cti.pgbench).
-- PL/pgSQL keeps its plans for the session; the same payload costs
-- ~0.14 ms. The small SQL helpers (ktd_live_case_json, ktd_call_json,
-- ktd_live_case_brief, ktd_rfc3339) are inlined into those cached plans.

CREATE OR REPLACE FUNCTION ktd_live_screen_pop(phone text) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	open_cases jsonb := '[]';
	recent_cases jsonb := '[]';
BEGIN
	-- Only an outside number (E.164) is looked up.
	IF phone LIKE '+%' THEN
		SELECT coalesce(jsonb_agg(ktd_live_case_brief(c)
				ORDER BY c.last_contact_at DESC, c.id DESC), '[]')
			INTO open_cases
			FROM (SELECT * FROM cases
				WHERE citizen_phone = phone
					AND merged_into_id IS NULL
					AND status IN ('new', 'open', 'forwarded')
				ORDER BY last_contact_at DESC, id DESC LIMIT 10) c;
		SELECT coalesce(jsonb_agg(ktd_live_case_brief(c)
				ORDER BY c.created_at DESC, c.id DESC), '[]')
			INTO recent_cases
			FROM (SELECT * FROM cases
				WHERE citizen_phone = phone
					AND merged_into_id IS NULL
					AND status IN ('resolved', 'closed')
				ORDER BY created_at DESC, id DESC LIMIT 5) c;
	END IF;
	RETURN jsonb_build_object('phone', phone, 'open_cases', open_cases,
		'recent_cases', recent_cases);
END;
$$;

CREATE OR REPLACE FUNCTION ktd_live_payload(p_type text, p_case_id bigint,
	p_call_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	payload jsonb;
	k calls;
BEGIN
	payload := jsonb_build_object('case_id', p_case_id,
		'case', (SELECT ktd_live_case_json(c) FROM cases c
			WHERE c.id = p_case_id));
	IF p_call_id IS NULL THEN
		RETURN payload;
	END IF;
	SELECT * INTO k FROM calls WHERE id = p_call_id;
	IF NOT FOUND THEN
		RETURN payload;
	END IF;
	payload := payload || jsonb_build_object('call', ktd_call_json(k));
	IF p_type IN ('call.offered', 'call.answered') THEN
		payload := payload || jsonb_build_object('screen_pop',
			ktd_live_screen_pop(CASE WHEN k.direction = 'in'
				THEN k.from_number ELSE k.to_number END));
	END IF;
	RETURN payload;
END;
$$;

-- Every call event updates its call. The sweeper's index was on
-- last_event_at (new at every event) where the state (changed by most
-- events) is not 'ended', so no update could be HOT: each wrote a new
-- entry into all six indexes of calls. Unended calls are few at any time
-- (those in progress and the lost ones the sweeper is about to close):
-- this index holds just their ids, and changes only when a call ends
-- (outcome is set exactly when the state is 'ended',
-- calls_outcome_state_check). Room on each page lets the new row version
-- stay beside the old one.
DROP INDEX calls_open_idx;
CREATE INDEX calls_unended_idx ON calls (id) WHERE outcome IS NULL;
ALTER TABLE calls SET (fillfactor = 80);

-- The case reference counter, in PL/pgSQL for the same reason as above:
-- the SQL function was planned at every new case.
CREATE OR REPLACE FUNCTION ktd_case_next_reference() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	y integer := extract(year FROM now() AT TIME ZONE 'Europe/Copenhagen');
	n bigint;
BEGIN
	INSERT INTO case_counters (year, last) VALUES (y, 1)
		ON CONFLICT (year) DO UPDATE SET last = case_counters.last + 1
		RETURNING last INTO n;
	RETURN y::text || '-' ||
		CASE WHEN n < 1000000 THEN lpad(n::text, 6, '0') ELSE n::text END;
END;
$$;

-- Every contact updates its case's last_contact_at (db_case_touch), which
-- the two threading indexes held: no such update could be HOT, and a case
-- row that is not updated in place gets new entries in every index of
-- cases, the GIN indexes of its words included (~0.17 ms a contact). The
-- indexes now hold only the number or address: a citizen has few open
-- cases, and db_case_find_open reads them all and takes the one with the
-- latest contact. Room on each page lets the new row version stay on it.
DROP INDEX cases_open_phone_idx;
CREATE INDEX cases_open_phone_idx ON cases (citizen_phone)
	WHERE status IN ('new', 'open', 'forwarded');
DROP INDEX cases_open_email_idx;
CREATE INDEX cases_open_email_idx ON cases (lower(citizen_email))
	WHERE status IN ('new', 'open', 'forwarded');
ALTER TABLE cases SET (fillfactor = 90);
