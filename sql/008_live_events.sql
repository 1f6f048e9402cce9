-- SPDX-License-Identifier: MPL-2.0
-- The live stream (GET /api/v1/events). Every change of a case or a call
-- writes a row here in its own transaction (db_live_add), and a NOTIFY on
-- channel kontaktd at commit tells every kontaktd process to read it. The
-- row id is the stream's event id (the SSE "id:" field): a client that
-- reconnects with Last-Event-ID gets what it missed from this table.
--
-- Ids grow in commit order. An identity value drawn at INSERT would not
-- do: a transaction that inserts early and commits late would put its row
-- behind ids that readers have passed already, and the event would never
-- be sent. So a row is inserted with a provisional id, and a deferred
-- trigger gives it its final id at commit, under a transaction-level
-- advisory lock held to the end of the commit: writers of events commit
-- one at a time from that point on (PostgreSQL serialises the commits of
-- notifying transactions anyway), while all their other work runs in
-- parallel as before. A reader that has seen id N never later finds a
-- committed row below N.

CREATE TABLE live_events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	-- The writing transaction's time.
	at timestamptz NOT NULL DEFAULT now(),
	type text NOT NULL
		CONSTRAINT live_events_type_check
		CHECK (type ~ '^(case|call)\.[a-z_]{1,32}$'),
	-- No foreign keys: this is a short-lived log (the janitor keeps
	-- [live] retention of it) and must not stand in the way of erasing a
	-- case.
	case_id bigint,
	call_id bigint,
	-- The event's data as the stream sends it (ktd_live_payload), made in
	-- the writing transaction, once for every process and client: a
	-- replay shows the state of that moment. Never a CPR number.
	payload jsonb NOT NULL
);

CREATE INDEX live_events_at_idx ON live_events (at);

COMMENT ON TABLE live_events IS
	'Events of the live stream (GET /api/v1/events); id is the SSE event id, in commit order';

-- The highest id the janitor has deleted: a Last-Event-ID below it cannot
-- be replayed (the client is told to reload instead).
CREATE TABLE live_events_pruned (
	only_row boolean PRIMARY KEY DEFAULT true
		CONSTRAINT live_events_pruned_only_row_check CHECK (only_row),
	upto bigint NOT NULL DEFAULT 0
);

INSERT INTO live_events_pruned DEFAULT VALUES;

CREATE FUNCTION ktd_live_event_commit() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	final_id bigint;
BEGIN
	-- Held until this transaction's commit is visible to all.
	PERFORM pg_advisory_xact_lock(hashtextextended('kontaktd:live_events', 0));
	UPDATE live_events SET id = DEFAULT WHERE id = NEW.id
		RETURNING id INTO final_id;
	PERFORM pg_notify('kontaktd', json_build_object(
		'id', final_id, 'type', NEW.type, 'case_id', NEW.case_id)::text);
	RETURN NULL;
END;
$$;

CREATE CONSTRAINT TRIGGER live_events_commit AFTER INSERT ON live_events
	DEFERRABLE INITIALLY DEFERRED
	FOR EACH ROW EXECUTE FUNCTION ktd_live_event_commit();

-- The caller's cases of every status, for the screen pop.
CREATE INDEX cases_phone_created_idx ON cases (citizen_phone, created_at DESC)
	WHERE citizen_phone IS NOT NULL AND merged_into_id IS NULL;

-- A case as the stream shows it: what an inbox row needs, and no data of
-- the citizen (the details come from GET /api/v1/cases/{id}, which is
-- audited).
CREATE FUNCTION ktd_live_case_json(c cases) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id,
		'reference', c.reference,
		'status', c.status,
		'resolution', c.resolution,
		'category', c.category,
		'department_id', c.department_id,
		'assignee_id', c.assignee_id,
		'subject', c.subject,
		'created_at', ktd_rfc3339(c.created_at),
		'updated_at', ktd_rfc3339(c.updated_at),
		'last_contact_at', ktd_rfc3339(c.last_contact_at),
		'merged_into_id', c.merged_into_id,
		'version', c.version)
$$;

-- A case in a screen pop's lists.
CREATE FUNCTION ktd_live_case_brief(c cases) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id,
		'reference', c.reference,
		'status', c.status,
		'resolution', c.resolution,
		'subject', c.subject,
		'created_at', ktd_rfc3339(c.created_at))
$$;

-- The screen pop of a call: the caller's open cases (most recent contact
-- first) and a few finished ones (newest first). Only an outside number
-- (E.164) is looked up; an extension or a withheld number has none.
CREATE FUNCTION ktd_live_screen_pop(phone text) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'phone', phone,
		'open_cases', coalesce((
			SELECT jsonb_agg(ktd_live_case_brief(c)
				ORDER BY c.last_contact_at DESC, c.id DESC)
			FROM (SELECT * FROM cases
				WHERE citizen_phone = phone AND phone LIKE '+%'
					AND merged_into_id IS NULL
					AND status IN ('new', 'open', 'forwarded')
				ORDER BY last_contact_at DESC, id DESC LIMIT 10) c),
			'[]'::jsonb),
		'recent_cases', coalesce((
			SELECT jsonb_agg(ktd_live_case_brief(c)
				ORDER BY c.created_at DESC, c.id DESC)
			FROM (SELECT * FROM cases
				WHERE citizen_phone = phone AND phone LIKE '+%'
					AND merged_into_id IS NULL
					AND status IN ('resolved', 'closed')
				ORDER BY created_at DESC, id DESC LIMIT 5) c),
			'[]'::jsonb))
$$;

-- An event's data: the case (as ktd_live_case_json); for call events the
-- call (ktd_call_json), and for call.offered and call.answered the screen
-- pop of the citizen's number (the caller of an inbound call, the callee
-- of an outbound one).
CREATE FUNCTION ktd_live_payload(p_type text, p_case_id bigint,
	p_call_id bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'case_id', p_case_id,
		'case', (SELECT ktd_live_case_json(c) FROM cases c
			WHERE c.id = p_case_id))
	|| coalesce((
		SELECT jsonb_build_object('call', ktd_call_json(k))
			|| CASE WHEN p_type IN ('call.offered', 'call.answered')
				THEN jsonb_build_object('screen_pop', ktd_live_screen_pop(
					CASE WHEN k.direction = 'in' THEN k.from_number
						ELSE k.to_number END))
				ELSE '{}'::jsonb END
		FROM calls k WHERE k.id = p_call_id), '{}'::jsonb)
$$;
