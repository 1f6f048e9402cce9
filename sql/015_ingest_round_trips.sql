-- SPDX-License-Identifier: MPL-2.0
-- A single call event with less work and fewer round trips.
--
-- 1. Final live event ids (sql/014) without walking every provisional id
-- there has been.
--
-- ktd_live_event_commit found its transaction's provisional rows with
-- "id < 0": a scan of the primary key from its most negative entry up to
-- 0. Every event leaves its provisional entry behind in the index when it
-- is renumbered, until VACUUM removes it, so that scan walked over every
-- event written since the last VACUUM: 0.10 ms of each transaction under
-- tools/bench cti (pg_stat_statements), the most of any statement a
-- single call event makes after the call's own.
--
-- A transaction's rows are never above its first: provisional ids are
-- drawn from a sequence, negated (-1 was inserted before -2), and the
-- first firing of the deferred trigger is for the transaction's first
-- row. So the scan starts at the newest entries and stops at NEW.id: it
-- sees only what was written while this transaction was.

CREATE OR REPLACE FUNCTION ktd_live_event_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	ids bigint[];
	n integer;
	base bigint;
BEGIN
	-- Renumbered already by an earlier firing in this transaction.
	PERFORM 1 FROM live_events WHERE id = NEW.id;
	IF NOT FOUND THEN
		RETURN NULL;
	END IF;
	-- Held until this transaction's commit is visible to all: no
	-- other transaction takes final ids before this one has committed.
	PERFORM pg_advisory_xact_lock(hashtextextended('kontaktd:live_events', 0));
	-- The provisional rows this transaction can see are its own (no
	-- committed row is provisional), and NEW is the first of them: the
	-- others have lower ids. Each row is then found by its id.
	SELECT array_agg(id ORDER BY id DESC) INTO ids FROM live_events
		WHERE id <= NEW.id AND id < 0;
	n := cardinality(ids);
	base := nextval('live_events_final_seq') - 1;
	IF n > 1 THEN
		-- Only writers holding the lock draw final ids.
		PERFORM setval('live_events_final_seq', base + n);
	END IF;
	UPDATE live_events SET id = base + array_position(ids, id)
		WHERE id = ANY (ids);
	-- Listeners read the table from their position on: one wake-up
	-- says enough. It names the transaction's last event and how many
	-- it wrote.
	PERFORM pg_notify('kontaktd', json_build_object('id', l.id,
			'type', l.type, 'case_id', l.case_id, 'count', n)::text)
		FROM live_events l WHERE l.id = base + n;
	RETURN NULL;
END;
$$;

-- 2. A count of rows that must be what it is, or the statement fails:
-- 40001 (serialization_failure, which kontaktd answers as a conflict to
-- try again). A writer whose COMMIT depends on how many rows a statement
-- wrote can then send the COMMIT in the same round trip: if the count is
-- wrong, the statement fails, and the COMMIT after it in the pipeline does
-- not run. A batch of call events stores every event it found new under
-- its calls' locks (src/core/cti.c): one stored meanwhile means a writer
-- that did not take them.
CREATE FUNCTION ktd_expect_rows(p_got bigint, p_want bigint, p_what text)
RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
	IF p_got IS DISTINCT FROM p_want THEN
		RAISE EXCEPTION '%: % rows, not %', p_what, p_got, p_want
			USING ERRCODE = 'serialization_failure';
	END IF;
	RETURN p_got;
END;
$$;
