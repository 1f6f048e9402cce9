-- SPDX-License-Identifier: MPL-2.0
-- Outbound mail through a transactional outbox, merged cases, and an
-- audit log that also covers the directory, users, tokens and routing
-- rules.

-- The audit log names what was acted on: a case (case_id), or another
-- object (object_type, object_id). New actions: merge (a duplicate
-- folded into another case), reply (an e-mail queued to the citizen),
-- delete (a token revoked, a routing rule removed).
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check
	CHECK (action IN ('read', 'create', 'update', 'forward', 'resolve',
		'export', 'merge', 'reply', 'delete'));
ALTER TABLE audit_log
	ADD COLUMN object_type text
		CONSTRAINT audit_log_object_type_check
		CHECK (object_type IN ('department', 'user', 'token',
			'routing_rule')),
	ADD COLUMN object_id bigint,
	ADD CONSTRAINT audit_log_object_check
		CHECK ((object_type IS NULL) = (object_id IS NULL));

CREATE INDEX audit_log_object_at_idx ON audit_log (object_type, object_id, at)
	WHERE object_type IS NOT NULL;

-- One outbound e-mail per outbound_email contact: the contact holds what
-- was written (from, to, subject, text; external_id is the Message-ID,
-- fixed at insert so that a resend is the same message), the outbox row
-- how its delivery goes. Written in the transaction of the request that
-- wants it sent; a worker sends it later, with retry and backoff.
CREATE TABLE outbox (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	contact_id bigint NOT NULL UNIQUE REFERENCES contacts (id),
	-- reply: an agent's answer; receipt: the automatic kvittering;
	-- forward: a case sent to a department's address.
	kind text NOT NULL
		CONSTRAINT outbox_kind_check
		CHECK (kind IN ('reply', 'receipt', 'forward')),
	in_reply_to text
		CONSTRAINT outbox_in_reply_to_check
		CHECK (char_length(in_reply_to) <= 998),
	references_hdr text
		CONSTRAINT outbox_references_hdr_check
		CHECK (char_length(references_hdr) <= 8000),
	-- queued: waiting for (another) attempt; sent: accepted by the
	-- SMTP server; failed: refused for good (shown on the case).
	status text NOT NULL DEFAULT 'queued'
		CONSTRAINT outbox_status_check
		CHECK (status IN ('queued', 'sent', 'failed')),
	attempts integer NOT NULL DEFAULT 0
		CONSTRAINT outbox_attempts_check CHECK (attempts >= 0),
	next_attempt_at timestamptz NOT NULL DEFAULT now(),
	last_error text
		CONSTRAINT outbox_last_error_check
		CHECK (char_length(last_error) <= 2000),
	sent_at timestamptz,
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT outbox_sent_check CHECK ((status = 'sent') = (sent_at IS NOT NULL))
);

CREATE INDEX outbox_due_idx ON outbox (next_attempt_at) WHERE status = 'queued';

COMMENT ON TABLE outbox IS
	'Delivery of outbound e-mail (transactional outbox); the message itself is the contact';

-- A contact as the API shows it: with its attachments (without their
-- bytes) and, for outbound mail, its delivery.
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
			FROM outbox o WHERE o.contact_id = ct.id))
$$;

CREATE FUNCTION ktd_forward_json(f forwards) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', f.id,
		'case_id', f.case_id,
		'from_department_id', f.from_department_id,
		'to_department_id', f.to_department_id,
		'method', f.method,
		'target', f.target,
		'reason', f.reason,
		'by_user_id', f.by_user_id,
		'at', ktd_rfc3339(f.at),
		'returned_at', ktd_rfc3339(f.returned_at))
$$;

CREATE FUNCTION ktd_audit_json(a audit_log) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', a.id,
		'at', ktd_rfc3339(a.at),
		'actor_user_id', a.actor_user_id,
		'actor_token', (SELECT t.name FROM api_tokens t
			WHERE t.id = a.actor_token_id),
		'action', a.action,
		'case_id', a.case_id,
		'object_type', a.object_type,
		'object_id', a.object_id,
		'peer', a.peer,
		'detail', a.detail)
$$;

-- At least one active admin remains: disabling the last one, or taking
-- the admin role from them, is refused (SQLSTATE KTD01) whichever way it
-- is tried (API, kontaktctl, SQL). The advisory lock serialises two such
-- changes, so that two admins cannot disable each other at once.
CREATE FUNCTION ktd_users_keep_an_admin() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF OLD.role = 'admin' AND NOT OLD.disabled AND
	   (NEW.role <> 'admin' OR NEW.disabled) THEN
		PERFORM pg_advisory_xact_lock(hashtext('ktd_users_keep_an_admin'));
		IF NOT EXISTS (SELECT 1 FROM users
				WHERE role = 'admin' AND NOT disabled AND id <> OLD.id) THEN
			RAISE EXCEPTION 'no active admin would remain'
				USING ERRCODE = 'KTD01';
		END IF;
	END IF;
	RETURN NEW;
END
$$;

CREATE TRIGGER users_keep_an_admin BEFORE UPDATE OF role, disabled ON users
	FOR EACH ROW EXECUTE FUNCTION ktd_users_keep_an_admin();
