-- SPDX-License-Identifier: MPL-2.0
-- Cases and their contacts, attachments, forwards, the audit log, the
-- routing rules of intake and the per-year counter of case references.

-- Case references are "YYYY-NNNNNN" from one counter per year (the year
-- in Danish local time). The counter row is locked until the creating
-- transaction ends, so references are handed out in commit order; a
-- rolled-back transaction gives its number back. Gaps are tolerated (a
-- deleted test case, a manual fix), duplicates are not (UNIQUE below).
CREATE TABLE case_counters (
	year integer PRIMARY KEY
		CONSTRAINT case_counters_year_check CHECK (year BETWEEN 2000 AND 9999),
	last bigint NOT NULL CONSTRAINT case_counters_last_check CHECK (last > 0)
);

CREATE FUNCTION ktd_case_next_reference() RETURNS text
LANGUAGE sql VOLATILE AS $$
	WITH y AS (
		SELECT extract(year FROM now() AT TIME ZONE 'Europe/Copenhagen')::integer AS year
	), n AS (
		INSERT INTO case_counters (year, last)
		SELECT year, 1 FROM y
		ON CONFLICT (year) DO UPDATE SET last = case_counters.last + 1
		RETURNING year, last
	)
	SELECT year::text || '-' ||
		CASE WHEN last < 1000000 THEN lpad(last::text, 6, '0')
		ELSE last::text END
	FROM n
$$;

COMMENT ON FUNCTION ktd_case_next_reference() IS
	'The next case reference of the current (Copenhagen) year, "2026-000123"';

CREATE TABLE cases (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	reference text NOT NULL UNIQUE
		CONSTRAINT cases_reference_check
		CHECK (reference ~ '^[0-9]{4}-[0-9]{6,}$'),
	-- new: nobody has acted on it; open: an agent works it; forwarded:
	-- handed to a department; resolved: answered (resolution says how);
	-- closed: finished, no further work (merged duplicates end here).
	status text NOT NULL DEFAULT 'new'
		CONSTRAINT cases_status_check
		CHECK (status IN ('new', 'open', 'forwarded', 'resolved', 'closed')),
	resolution text
		CONSTRAINT cases_resolution_check
		CHECK (resolution IN ('resolved_first_contact', 'answered_later',
			'forwarded', 'callback', 'duplicate', 'spam')),
	category text
		CONSTRAINT cases_category_check
		CHECK (char_length(category) BETWEEN 1 AND 100
			AND category !~ '[[:cntrl:]]'),
	department_id bigint REFERENCES departments (id),
	assignee_id bigint REFERENCES users (id),
	citizen_name text
		CONSTRAINT cases_citizen_name_check
		CHECK (char_length(citizen_name) <= 200
			AND citizen_name !~ '[[:cntrl:]]'),
	citizen_phone text
		CONSTRAINT cases_citizen_phone_check
		CHECK (citizen_phone ~ '^\+?[0-9]{1,20}$'),
	citizen_email text
		CONSTRAINT cases_citizen_email_check
		CHECK (char_length(citizen_email) <= 254
			AND citizen_email !~ '[[:space:][:cntrl:]]'
			AND citizen_email LIKE '%_@_%'),
	-- Personal data: shown masked to agents, never logged.
	citizen_cpr text
		CONSTRAINT cases_citizen_cpr_check CHECK (citizen_cpr ~ '^[0-9]{10}$'),
	citizen_cvr text
		CONSTRAINT cases_citizen_cvr_check CHECK (citizen_cvr ~ '^[0-9]{8}$'),
	subject text NOT NULL DEFAULT ''
		CONSTRAINT cases_subject_check CHECK (char_length(subject) <= 500),
	created_at timestamptz NOT NULL DEFAULT now(),
	first_response_at timestamptz,
	resolved_at timestamptz,
	-- The newest contact (in or out); intake threads onto a case of the
	-- same caller or sender only while this is recent.
	last_contact_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	merged_into_id bigint REFERENCES cases (id),
	-- Optimistic concurrency: every change sets version = version + 1
	-- WHERE version = the version the client saw.
	version integer NOT NULL DEFAULT 1
		CONSTRAINT cases_version_check CHECK (version > 0),
	search tsvector GENERATED ALWAYS AS (
		to_tsvector('danish'::regconfig,
			coalesce(subject, '') || ' ' || coalesce(citizen_name, '') ||
			' ' || coalesce(category, ''))) STORED,
	CONSTRAINT cases_resolution_status_check
		CHECK (resolution IS NULL OR status IN ('resolved', 'closed')),
	CONSTRAINT cases_resolved_check
		CHECK (status <> 'resolved' OR
			(resolution IS NOT NULL AND resolved_at IS NOT NULL)),
	CONSTRAINT cases_merged_self_check CHECK (merged_into_id <> id),
	CONSTRAINT cases_merged_closed_check
		CHECK (merged_into_id IS NULL OR status = 'closed')
);

-- List filters; every list is ordered by (created_at, id) descending and
-- paginated by a cursor on that pair.
CREATE INDEX cases_created_idx ON cases (created_at DESC, id DESC);
CREATE INDEX cases_status_created_idx ON cases (status, created_at DESC, id DESC);
CREATE INDEX cases_department_created_idx
	ON cases (department_id, created_at DESC, id DESC);
CREATE INDEX cases_assignee_created_idx
	ON cases (assignee_id, created_at DESC, id DESC);
CREATE INDEX cases_search_idx ON cases USING gin (search);
-- Threading by caller or sender onto a case still being worked.
CREATE INDEX cases_open_phone_idx ON cases (citizen_phone, last_contact_at)
	WHERE status IN ('new', 'open', 'forwarded');
CREATE INDEX cases_open_email_idx ON cases (lower(citizen_email), last_contact_at)
	WHERE status IN ('new', 'open', 'forwarded');
CREATE INDEX cases_merged_into_idx ON cases (merged_into_id)
	WHERE merged_into_id IS NOT NULL;

CREATE TRIGGER cases_touch BEFORE UPDATE ON cases
	FOR EACH ROW EXECUTE FUNCTION ktd_touch_updated_at();

COMMENT ON TABLE cases IS
	'Cases (sager): one citizen matter, made of contacts on any channel';
COMMENT ON COLUMN cases.citizen_cpr IS
	'CPR number, 10 digits: personal data, masked for agents and in logs, every read audited';

-- One contact (henvendelse): a call, an e-mail, a Digital Post message, a
-- note or a reply.
CREATE TABLE contacts (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	case_id bigint NOT NULL REFERENCES cases (id),
	channel text NOT NULL
		CONSTRAINT contacts_channel_check
		CHECK (channel IN ('phone', 'email', 'digital_post', 'web',
			'walk_in', 'note', 'outbound_email', 'outbound_dp')),
	direction text NOT NULL
		CONSTRAINT contacts_direction_check
		CHECK (direction IN ('in', 'out', 'internal')),
	-- The channel's own id (call id, Message-ID, MeMo id): the
	-- idempotency key. NULL for contacts without one (hand-made notes).
	external_id text
		CONSTRAINT contacts_external_id_check
		CHECK (char_length(external_id) BETWEEN 1 AND 998),
	occurred_at timestamptz NOT NULL DEFAULT now(),
	from_addr text
		CONSTRAINT contacts_from_addr_check CHECK (char_length(from_addr) <= 998),
	to_addr text
		CONSTRAINT contacts_to_addr_check CHECK (char_length(to_addr) <= 998),
	subject text NOT NULL DEFAULT ''
		CONSTRAINT contacts_subject_check CHECK (char_length(subject) <= 998),
	body text NOT NULL DEFAULT ''
		CONSTRAINT contacts_body_check CHECK (octet_length(body) <= 1048576),
	-- Where the raw payload is kept (spool file, IMAP UID), if anywhere.
	raw_ref text
		CONSTRAINT contacts_raw_ref_check CHECK (char_length(raw_ref) <= 1024),
	created_by bigint REFERENCES users (id),
	created_at timestamptz NOT NULL DEFAULT now(),
	search tsvector GENERATED ALWAYS AS (
		to_tsvector('danish'::regconfig,
			subject || ' ' || left(body, 100000))) STORED,
	CONSTRAINT contacts_channel_external_id_key UNIQUE (channel, external_id)
);

CREATE INDEX contacts_case_idx ON contacts (case_id, occurred_at, id);
CREATE INDEX contacts_channel_case_idx ON contacts (channel, case_id);
CREATE INDEX contacts_search_idx ON contacts USING gin (search);

COMMENT ON TABLE contacts IS
	'Contacts (henvendelser) on a case; (channel, external_id) is the idempotency key of intake';

CREATE TABLE attachments (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	contact_id bigint NOT NULL REFERENCES contacts (id),
	filename text NOT NULL
		CONSTRAINT attachments_filename_check
		CHECK (char_length(filename) BETWEEN 1 AND 255
			AND filename !~ '[[:cntrl:]/\\]'),
	content_type text NOT NULL
		CONSTRAINT attachments_content_type_check
		CHECK (content_type ~ '^[a-zA-Z0-9!#$&^_.+-]{1,127}/[a-zA-Z0-9!#$&^_.+-]{1,127}$'),
	size bigint NOT NULL
		CONSTRAINT attachments_size_check CHECK (size BETWEEN 0 AND 26214400),
	sha256 bytea NOT NULL
		CONSTRAINT attachments_sha256_check CHECK (length(sha256) = 32),
	data bytea NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT attachments_data_size_check CHECK (length(data) = size)
);

CREATE INDEX attachments_contact_idx ON attachments (contact_id);

-- A case handed to a department, and whether it came back.
CREATE TABLE forwards (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	case_id bigint NOT NULL REFERENCES cases (id),
	from_department_id bigint REFERENCES departments (id),
	to_department_id bigint NOT NULL REFERENCES departments (id),
	method text NOT NULL
		CONSTRAINT forwards_method_check
		CHECK (method IN ('queue', 'hunt_group', 'ivr', 'callback', 'direct',
			'email')),
	-- The number or address used, copied at forward time: the directory
	-- may change later, the statistics must not.
	target text
		CONSTRAINT forwards_target_check CHECK (char_length(target) <= 254),
	reason text NOT NULL DEFAULT ''
		CONSTRAINT forwards_reason_check CHECK (char_length(reason) <= 2000),
	by_user_id bigint REFERENCES users (id),
	at timestamptz NOT NULL DEFAULT now(),
	returned_at timestamptz,
	CONSTRAINT forwards_returned_check CHECK (returned_at >= at)
);

CREATE INDEX forwards_case_idx ON forwards (case_id, at);
CREATE INDEX forwards_to_department_at_idx ON forwards (to_department_id, at);

-- Who read or changed which case, when and from where.
CREATE TABLE audit_log (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	actor_user_id bigint REFERENCES users (id),
	actor_token_id bigint REFERENCES api_tokens (id),
	action text NOT NULL
		CONSTRAINT audit_log_action_check
		CHECK (action IN ('read', 'create', 'update', 'forward', 'resolve',
			'export')),
	case_id bigint REFERENCES cases (id),
	peer text CONSTRAINT audit_log_peer_check CHECK (length(peer) <= 64),
	detail jsonb NOT NULL DEFAULT '{}'
		CONSTRAINT audit_log_detail_check CHECK (jsonb_typeof(detail) = 'object'),
	CONSTRAINT audit_log_actor_check
		CHECK (actor_user_id IS NULL OR actor_token_id IS NULL)
);

CREATE INDEX audit_log_case_at_idx ON audit_log (case_id, at);
CREATE INDEX audit_log_user_at_idx ON audit_log (actor_user_id, at);
CREATE INDEX audit_log_at_idx ON audit_log (at);

COMMENT ON TABLE audit_log IS
	'Every read and change of a case: append-only; neither actor means the system (a channel) acted';

-- Intake's routing of new cases: the first active rule by priority (then
-- id) that matches decides the department. to_address: the contact's
-- to-address equals pattern (case-insensitive); queue: the phone queue
-- equals pattern; keyword: the subject contains pattern (case-insensitive).
CREATE TABLE routing_rules (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	kind text NOT NULL
		CONSTRAINT routing_rules_kind_check
		CHECK (kind IN ('to_address', 'queue', 'keyword')),
	pattern text NOT NULL
		CONSTRAINT routing_rules_pattern_check
		CHECK (char_length(pattern) BETWEEN 1 AND 254
			AND pattern !~ '[[:cntrl:]]'),
	department_id bigint NOT NULL REFERENCES departments (id),
	priority integer NOT NULL DEFAULT 100,
	active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX routing_rules_priority_idx ON routing_rules (priority, id)
	WHERE active;

-- A case as the API shows it. show_cpr: the full CPR number (supervisors
-- and admins); otherwise "DDMMYY-XXXX", which says the birth date but not
-- the person.
CREATE FUNCTION ktd_case_json(c cases, show_cpr boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id,
		'reference', c.reference,
		'status', c.status,
		'resolution', c.resolution,
		'category', c.category,
		'department_id', c.department_id,
		'assignee_id', c.assignee_id,
		'citizen', jsonb_build_object(
			'name', c.citizen_name,
			'phone', c.citizen_phone,
			'email', c.citizen_email,
			'cpr', CASE WHEN show_cpr THEN c.citizen_cpr
				ELSE substr(c.citizen_cpr, 1, 6) || '-XXXX' END,
			'cvr', c.citizen_cvr),
		'subject', c.subject,
		'created_at', ktd_rfc3339(c.created_at),
		'first_response_at', ktd_rfc3339(c.first_response_at),
		'resolved_at', ktd_rfc3339(c.resolved_at),
		'updated_at', ktd_rfc3339(c.updated_at),
		'merged_into_id', c.merged_into_id,
		'version', c.version,
		'contact_count',
			(SELECT count(*) FROM contacts ct WHERE ct.case_id = c.id))
$$;

CREATE FUNCTION ktd_contact_json(ct contacts) RETURNS jsonb
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
		'created_at', ktd_rfc3339(ct.created_at))
$$;
