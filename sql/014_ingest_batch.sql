-- SPDX-License-Identifier: MPL-2.0
-- The live stream's final ids, once per transaction instead of once per
-- event (008 explains why a row gets its final id at commit). The commit
-- trigger of 008 ran for every row: an advisory lock, an UPDATE of the row
-- and a NOTIFY each, ~0.4 ms of PostgreSQL's time for an event row
-- (pgbench -r on tools/bench-cti.pgbench), most of what a call event
-- cost. Now rows are inserted with a negative provisional id; the first
-- firing of the commit trigger in a transaction takes the lock, gives all
-- the transaction's rows their final ids in one UPDATE (in the order they
-- were inserted) and sends one NOTIFY (008 sent one an event); the other
-- firings find their row
-- renumbered and return. Readers never see a provisional id: a row is
-- visible to others only once committed, and committed rows have final
-- ids.

-- The final ids go on from where the identity column stopped.
CREATE SEQUENCE live_events_final_seq AS bigint;
SELECT setval('live_events_final_seq', greatest(
	(SELECT last_value FROM live_events_id_seq),
	(SELECT coalesce(max(id), 0) FROM live_events),
	(SELECT upto FROM live_events_pruned), 1));

ALTER TABLE live_events ALTER COLUMN id DROP IDENTITY;
CREATE SEQUENCE live_events_provisional_seq AS bigint;
ALTER TABLE live_events ALTER COLUMN id
	SET DEFAULT -nextval('live_events_provisional_seq');

COMMENT ON COLUMN live_events.id IS
	'The SSE event id, given at commit in commit order (ktd_live_event_commit); negative (provisional) only inside the writing transaction';

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
	-- committed row is provisional). -1 was inserted before -2. Each
	-- row is then found by its id (an index scan whatever the table's
	-- size: a join planned while the table was small scanned it all).
	SELECT array_agg(id ORDER BY id DESC) INTO ids FROM live_events
		WHERE id < 0;
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

-- A batch of call events (cti_ingest_batch) writes its live events in one
-- statement at its end, when each call's row holds the call as its last
-- event left it: p_call gives the call as it was at the event (calls
-- columns as JSON, laid over the row). The three-argument form is the
-- call as stored.
CREATE FUNCTION ktd_live_payload(p_type text, p_case_id bigint,
	p_call_id bigint, p_call jsonb) RETURNS jsonb
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
	IF p_call IS NOT NULL THEN
		k := jsonb_populate_record(k, p_call);
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

CREATE OR REPLACE FUNCTION ktd_live_payload(p_type text, p_case_id bigint,
	p_call_id bigint) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN ktd_live_payload(p_type, p_case_id, p_call_id, NULL);
END;
$$;

-- Case references from a sequence per year instead of the counter row of
-- 003: that row stayed locked until the creating transaction ended, so
-- every transaction that made a case waited for every other one's commit
-- (a mail round of a hundred messages held back every new call; in
-- tools/bench cti the insert of a case waited 17 ms on average). A
-- sequence hands out numbers without a lock; a rolled-back transaction
-- leaves a gap (003 tolerates gaps; references now follow the order of
-- creation rather than of commit). A year's sequence is made ahead of
-- time (ktd_case_reference_prepare: by this migration, then by the
-- janitor, for this year and the next); a year without one falls back to
-- the counter row.
CREATE FUNCTION ktd_case_reference_prepare() RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	y integer := extract(year FROM now() AT TIME ZONE 'Europe/Copenhagen');
	yy integer;
	last_n bigint;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('kontaktd:case_reference', 0));
	FOREACH yy IN ARRAY ARRAY[y, y + 1] LOOP
		CONTINUE WHEN to_regclass('case_reference_' || yy) IS NOT NULL;
		-- Callers of the counter row for that year wait until this
		-- commits, and then see the sequence. One who read the catalog
		-- just before may still take the next number of the counter:
		-- the sequence starts well past it.
		SELECT last INTO last_n FROM case_counters WHERE year = yy
			FOR UPDATE;
		EXECUTE format('CREATE SEQUENCE %I AS bigint START WITH %s',
			'case_reference_' || yy,
			CASE WHEN last_n IS NULL THEN 1 ELSE last_n + 1000 END);
	END LOOP;
END;
$$;

SELECT ktd_case_reference_prepare();

CREATE OR REPLACE FUNCTION ktd_case_next_reference() RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	y integer := extract(year FROM now() AT TIME ZONE 'Europe/Copenhagen');
	seq regclass := to_regclass('case_reference_' || y);
	n bigint;
BEGIN
	IF seq IS NOT NULL THEN
		n := nextval(seq);
	ELSE
		INSERT INTO case_counters (year, last) VALUES (y, 1)
			ON CONFLICT (year) DO UPDATE SET last = case_counters.last + 1
			RETURNING last INTO n;
	END IF;
	RETURN y::text || '-' ||
		CASE WHEN n < 1000000 THEN lpad(n::text, 6, '0') ELSE n::text END;
END;
$$;

-- The case as the stream shows it, in PL/pgSQL: as an SQL function with a
-- sub-select (the assignee's name) it could not be inlined, and every
-- call from ktd_live_payload planned it again (~80 µs of the ~90 µs a
-- case event's payload cost; now ~12 µs).
CREATE OR REPLACE FUNCTION ktd_live_case_json(c cases) RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
	assignee text;
BEGIN
	IF c.assignee_id IS NOT NULL THEN
		SELECT ktd_user_display_name(u) INTO assignee FROM users u
			WHERE u.id = c.assignee_id;
	END IF;
	RETURN jsonb_build_object(
		'id', c.id,
		'reference', c.reference,
		'status', c.status,
		'resolution', c.resolution,
		'category', c.category,
		'department_id', c.department_id,
		'assignee_id', c.assignee_id,
		'assignee_name', assignee,
		'channel', c.channel,
		'subject', c.subject,
		'created_at', ktd_rfc3339(c.created_at),
		'updated_at', ktd_rfc3339(c.updated_at),
		'last_contact_at', ktd_rfc3339(c.last_contact_at),
		'merged_into_id', c.merged_into_id,
		'version', c.version);
END;
$$;

-- The union of two contacts' lexemes, in PL/pgSQL for the same reason:
-- as the transition function of ktd_tsvector_union_agg (called through
-- the function manager, never inlined) the SQL function was planned again
-- in every execution of the contacts triggers' UPDATE (~60 µs of every
-- contact stored).
CREATE OR REPLACE FUNCTION ktd_tsvector_union(a tsvector, b tsvector)
	RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE AS $$
BEGIN
	RETURN CASE
		WHEN a = '''ktd overflow'''::tsvector THEN a
		-- tsvector_out's text is longer than the lexemes it lists, so
		-- this errs on the safe side of the 1 MB limit.
		WHEN octet_length(a::text) + octet_length(b::text) > 1000000
			THEN '''ktd overflow'''::tsvector
		ELSE strip(a || b) END;
END;
$$;
