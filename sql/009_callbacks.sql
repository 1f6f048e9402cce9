-- SPDX-License-Identifier: MPL-2.0
-- Callbacks (ring-op): a citizen asked to be called back, from the IVR
-- (a callback_requested call event) or through an agent. A task with the
-- number, the wish (a time window, a message), when it is due and how the
-- attempts went; after [callbacks] max_attempts failed attempts it closes
-- as not reached.

CREATE TABLE callbacks (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	case_id bigint NOT NULL REFERENCES cases (id),
	-- The call it was asked for in, if any: at most one callback per
	-- call, so a repeated event asks once.
	call_row_id bigint UNIQUE REFERENCES calls (id),
	number text NOT NULL
		CONSTRAINT callbacks_number_check
		CHECK (number ~ '^\+[1-9][0-9]{6,14}$'),
	message text NOT NULL DEFAULT ''
		CONSTRAINT callbacks_message_check CHECK (char_length(message) <= 2000),
	window_from timestamptz,
	window_to timestamptz,
	due_at timestamptz NOT NULL DEFAULT now(),
	-- open: to be called; done: reached; not_reached: closed after the
	-- last failed attempt; cancelled: no longer wanted.
	status text NOT NULL DEFAULT 'open'
		CONSTRAINT callbacks_status_check
		CHECK (status IN ('open', 'done', 'not_reached', 'cancelled')),
	attempts integer NOT NULL DEFAULT 0
		CONSTRAINT callbacks_attempts_check CHECK (attempts >= 0),
	last_attempt_at timestamptz,
	completed_at timestamptz,
	created_by bigint REFERENCES users (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	version integer NOT NULL DEFAULT 1
		CONSTRAINT callbacks_version_check CHECK (version > 0),
	CONSTRAINT callbacks_window_check
		CHECK (window_to IS NULL OR window_from IS NULL OR window_to > window_from),
	CONSTRAINT callbacks_completed_check
		CHECK ((status IN ('done', 'not_reached')) = (completed_at IS NOT NULL))
);

CREATE INDEX callbacks_open_due_idx ON callbacks (due_at, id) WHERE status = 'open';
CREATE INDEX callbacks_case_idx ON callbacks (case_id);
CREATE INDEX callbacks_created_idx ON callbacks (created_at);

CREATE TRIGGER callbacks_touch BEFORE UPDATE ON callbacks
	FOR EACH ROW EXECUTE FUNCTION ktd_touch_updated_at();

CREATE TABLE callback_attempts (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	callback_id bigint NOT NULL REFERENCES callbacks (id),
	at timestamptz NOT NULL DEFAULT now(),
	by_user_id bigint REFERENCES users (id),
	result text NOT NULL
		CONSTRAINT callback_attempts_result_check
		CHECK (result IN ('reached', 'not_reached')),
	note text NOT NULL DEFAULT ''
		CONSTRAINT callback_attempts_note_check CHECK (char_length(note) <= 2000)
);

CREATE INDEX callback_attempts_callback_idx ON callback_attempts (callback_id, at);

CREATE FUNCTION ktd_callback_json(c callbacks) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id,
		'case_id', c.case_id,
		'case_reference', (SELECT reference FROM cases WHERE id = c.case_id),
		'call_id', (SELECT call_id FROM calls WHERE id = c.call_row_id),
		'number', c.number,
		'message', c.message,
		'window_from', ktd_rfc3339(c.window_from),
		'window_to', ktd_rfc3339(c.window_to),
		'due_at', ktd_rfc3339(c.due_at),
		'status', c.status,
		'attempts', c.attempts,
		'last_attempt_at', ktd_rfc3339(c.last_attempt_at),
		'completed_at', ktd_rfc3339(c.completed_at),
		'created_by', c.created_by,
		'created_at', ktd_rfc3339(c.created_at),
		'version', c.version,
		'history', coalesce((SELECT jsonb_agg(jsonb_build_object(
				'at', ktd_rfc3339(a.at),
				'by_user_id', a.by_user_id,
				'result', a.result,
				'note', a.note) ORDER BY a.at, a.id)
			FROM callback_attempts a WHERE a.callback_id = c.id),
			'[]'::jsonb))
$$;
