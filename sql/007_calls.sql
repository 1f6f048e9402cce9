-- SPDX-License-Identifier: MPL-2.0
-- Calls: each call is one contact (channel phone, external_id the phone
-- system's call id) whose state is derived from all of its events, kept
-- here as they arrived. Deriving from the whole set makes ingestion
-- idempotent (an event is stored once) and order-tolerant (the same
-- events in any order give the same call).

CREATE TABLE calls (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	contact_id bigint NOT NULL UNIQUE REFERENCES contacts (id),
	call_id text NOT NULL UNIQUE
		CONSTRAINT calls_call_id_check
		CHECK (char_length(call_id) BETWEEN 1 AND 200
			AND call_id !~ '[[:cntrl:]]'),
	-- sipgate's origCallId: stable across the legs of a transferred
	-- call.
	orig_call_id text
		CONSTRAINT calls_orig_call_id_check
		CHECK (char_length(orig_call_id) BETWEEN 1 AND 200
			AND orig_call_id !~ '[[:cntrl:]]'),
	direction text NOT NULL
		CONSTRAINT calls_direction_check CHECK (direction IN ('in', 'out')),
	from_number text
		CONSTRAINT calls_from_number_check
		CHECK (from_number ~ '^(\+[1-9][0-9]{6,14}|[0-9]{1,6}|anonymous)$'),
	to_number text
		CONSTRAINT calls_to_number_check
		CHECK (to_number ~ '^(\+[1-9][0-9]{6,14}|[0-9]{1,6}|anonymous)$'),
	state text NOT NULL DEFAULT 'offered'
		CONSTRAINT calls_state_check
		CHECK (state IN ('offered', 'queued', 'answered', 'ended')),
	queue text CONSTRAINT calls_queue_check CHECK (char_length(queue) <= 64),
	answered_by text
		CONSTRAINT calls_answered_by_check CHECK (char_length(answered_by) <= 200),
	transferred_to text
		CONSTRAINT calls_transferred_to_check
		CHECK (char_length(transferred_to) <= 200),
	offered_at timestamptz NOT NULL,
	queued_at timestamptz,
	answered_at timestamptz,
	ended_at timestamptz,
	transfers integer NOT NULL DEFAULT 0,
	returns integer NOT NULL DEFAULT 0,
	diversions integer NOT NULL DEFAULT 0,
	callback_requested boolean NOT NULL DEFAULT false,
	end_cause text
		CONSTRAINT calls_end_cause_check CHECK (char_length(end_cause) <= 64),
	outcome text
		CONSTRAINT calls_outcome_check
		CHECK (outcome IN ('abandoned', 'callback', 'answered', 'transferred',
			'returned', 'diverted', 'end_unknown')),
	wait_ms integer CONSTRAINT calls_wait_ms_check CHECK (wait_ms >= 0),
	talk_ms integer CONSTRAINT calls_talk_ms_check CHECK (talk_ms >= 0),
	-- When the newest event arrived: the sweeper closes calls whose end
	-- never came.
	last_event_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT calls_outcome_state_check
		CHECK ((outcome IS NOT NULL) = (state = 'ended'))
);

CREATE INDEX calls_open_idx ON calls (last_event_at) WHERE state <> 'ended';
CREATE INDEX calls_offered_idx ON calls (offered_at);
CREATE INDEX calls_orig_call_id_idx ON calls (orig_call_id)
	WHERE orig_call_id IS NOT NULL;

CREATE TRIGGER calls_touch BEFORE UPDATE ON calls
	FOR EACH ROW EXECUTE FUNCTION ktd_touch_updated_at();

COMMENT ON TABLE calls IS
	'One row per call (a phone contact): its state and figures, derived from call_events';

CREATE TABLE call_events (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	call_id bigint NOT NULL REFERENCES calls (id),
	event text NOT NULL
		CONSTRAINT call_events_event_check
		CHECK (event IN ('offered', 'queued', 'answered', 'transferred',
			'transfer_returned', 'diverted', 'callback_requested', 'ended')),
	at timestamptz NOT NULL,
	agent text CONSTRAINT call_events_agent_check CHECK (char_length(agent) <= 200),
	target text
		CONSTRAINT call_events_target_check CHECK (char_length(target) <= 200),
	queue text CONSTRAINT call_events_queue_check CHECK (char_length(queue) <= 64),
	cause text CONSTRAINT call_events_cause_check CHECK (char_length(cause) <= 64),
	-- native: POST /api/v1/cti/events; generic: the Zammad-compatible
	-- route; sweeper: kontaktd closed a call whose end never came; agent:
	-- closed by hand.
	source text NOT NULL
		CONSTRAINT call_events_source_check
		CHECK (source IN ('native', 'generic', 'sweeper', 'agent')),
	received_at timestamptz NOT NULL DEFAULT now()
);

-- The identity of an event: the same event twice is stored once.
CREATE UNIQUE INDEX call_events_identity_idx ON call_events
	(call_id, event, at, coalesce(agent, ''), coalesce(target, ''));

-- A call as the API shows it (in its contact, and on its own).
CREATE FUNCTION ktd_call_json(c calls) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'call_id', c.call_id,
		'orig_call_id', c.orig_call_id,
		'direction', c.direction,
		'from', c.from_number,
		'to', c.to_number,
		'state', c.state,
		'queue', c.queue,
		'answered_by', c.answered_by,
		'transferred_to', c.transferred_to,
		'offered_at', ktd_rfc3339(c.offered_at),
		'queued_at', ktd_rfc3339(c.queued_at),
		'answered_at', ktd_rfc3339(c.answered_at),
		'ended_at', ktd_rfc3339(c.ended_at),
		'transfers', c.transfers,
		'returns', c.returns,
		'diversions', c.diversions,
		'callback_requested', c.callback_requested,
		'end_cause', c.end_cause,
		'outcome', c.outcome,
		'wait_seconds', round(c.wait_ms / 1000.0, 3),
		'talk_seconds', round(c.talk_ms / 1000.0, 3))
$$;

-- A contact as the API shows it: 005's, with the call of a phone
-- contact.
CREATE OR REPLACE FUNCTION ktd_contact_json(ct contacts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', ct.id,
		'case_id', ct.case_id,
		'channel', ct.channel,
		'direction', ct.direction,
		'external_id', ct.external_id,
		'occurred_at', ktd_rfc3339(ct.occurred_at),
		'from', ct.from_addr,
		'to', ct.to_addr,
		'subject', ct.subject,
		'text', ct.body,
		'created_by', ct.created_by,
		'created_at', ktd_rfc3339(ct.created_at),
		'attachments', coalesce((
			SELECT jsonb_agg(jsonb_build_object(
				'id', a.id,
				'filename', a.filename,
				'content_type', a.content_type,
				'size', a.size,
				'sha256', encode(a.sha256, 'hex')) ORDER BY a.id)
			FROM attachments a WHERE a.contact_id = ct.id), '[]'::jsonb),
		'delivery', (
			SELECT jsonb_build_object(
				'status', o.status,
				'attempts', o.attempts,
				'last_error', o.last_error,
				'next_attempt_at', CASE WHEN o.status = 'queued'
					THEN ktd_rfc3339(o.next_attempt_at) END,
				'sent_at', ktd_rfc3339(o.sent_at))
			FROM outbox o WHERE o.contact_id = ct.id),
		'call', (SELECT ktd_call_json(c) FROM calls c
			WHERE c.contact_id = ct.id))
$$;
