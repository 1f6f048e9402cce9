-- SPDX-License-Identifier: MPL-2.0
-- The directory (departments), users, their server-side sessions, API
-- tokens and failed logins. Cases, contacts, forwards and the audit log
-- refer to these rows, so none of them is ever deleted: departments are
-- deactivated, users disabled and tokens revoked instead.

-- Timestamps leave the database as RFC 3339 UTC text, "2026-01-31T08:15:00Z".
CREATE FUNCTION ktd_rfc3339(t timestamptz) RETURNS text
LANGUAGE sql STABLE STRICT AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
$$;

COMMENT ON FUNCTION ktd_rfc3339(timestamptz) IS
	'A timestamp as RFC 3339 UTC text with whole seconds';

-- The directory (telefonbog): where the contact centre forwards to.
CREATE TABLE departments (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL
		CONSTRAINT departments_name_check CHECK (
			char_length(name) BETWEEN 1 AND 200
			AND name = btrim(name)
			AND name !~ '[[:cntrl:]]'),
	parent_id bigint REFERENCES departments (id),
	-- Numbers the phone system forwards to: digits, optionally a leading
	-- '+'; the IVR choice is the keys pressed in the menu, in order.
	queue_number text
		CONSTRAINT departments_queue_number_check
		CHECK (queue_number ~ '^\+?[0-9]{1,20}$'),
	hunt_group_number text
		CONSTRAINT departments_hunt_group_number_check
		CHECK (hunt_group_number ~ '^\+?[0-9]{1,20}$'),
	ivr_choice text
		CONSTRAINT departments_ivr_choice_check
		CHECK (ivr_choice ~ '^[0-9*#]{1,16}$'),
	email text
		CONSTRAINT departments_email_check CHECK (
			char_length(email) <= 254
			AND email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+\.[^@[:space:][:cntrl:]]+$'),
	-- {"mon": [["08:00", "15:00"]], ...} in local time (Europe/Copenhagen);
	-- days without a key are closed. kontaktd validates the ranges, the
	-- database only the outer shape.
	phone_hours jsonb NOT NULL DEFAULT '{}'
		CONSTRAINT departments_phone_hours_check CHECK (
			jsonb_typeof(phone_hours) = 'object'
			AND phone_hours - '{mon,tue,wed,thu,fri,sat,sun}'::text[]
				= '{}'::jsonb),
	handled_by_centre boolean NOT NULL DEFAULT false,
	-- The phase in which the contact centre took the department over;
	-- set exactly when the centre handles it.
	phase smallint
		CONSTRAINT departments_phase_check CHECK (phase BETWEEN 1 AND 3),
	active boolean NOT NULL DEFAULT true,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	CONSTRAINT departments_phase_centre_check
		CHECK ((phase IS NOT NULL) = handled_by_centre),
	CONSTRAINT departments_parent_self_check CHECK (parent_id <> id)
);

-- Names are unique regardless of case ("Borgerservice", "borgerservice").
CREATE UNIQUE INDEX departments_name_key ON departments (lower(name));
CREATE INDEX departments_parent_id_idx ON departments (parent_id);

CREATE TRIGGER departments_touch BEFORE UPDATE ON departments
	FOR EACH ROW EXECUTE FUNCTION ktd_touch_updated_at();

-- A department may not be its own ancestor. An AFTER ROW trigger runs at
-- the end of the statement, so one UPDATE may rearrange several parents
-- and only the final tree is checked.
CREATE FUNCTION ktd_departments_no_cycle() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	IF EXISTS (
		WITH RECURSIVE up (id, depth) AS (
			SELECT NEW.parent_id, 1
			UNION ALL
			SELECT d.parent_id, up.depth + 1
			FROM departments d JOIN up ON d.id = up.id
			WHERE d.parent_id IS NOT NULL AND up.depth < 1000
		)
		SELECT 1 FROM up WHERE id = NEW.id
	) THEN
		RAISE EXCEPTION 'department "%" would be its own ancestor',
			NEW.name
			USING ERRCODE = 'check_violation',
			CONSTRAINT = 'departments_parent_cycle_check';
	END IF;
	RETURN NULL;
END;
$$;

CREATE TRIGGER departments_no_cycle
	AFTER INSERT OR UPDATE OF parent_id ON departments
	FOR EACH ROW WHEN (NEW.parent_id IS NOT NULL)
	EXECUTE FUNCTION ktd_departments_no_cycle();

COMMENT ON TABLE departments IS
	'The directory (telefonbog): departments, how calls reach them and whether the contact centre handles them';
COMMENT ON COLUMN departments.phone_hours IS
	'Phone hours per weekday in local time: {"mon": [["08:00", "15:00"]], ...}; a missing day is closed';
COMMENT ON COLUMN departments.phase IS
	'Phase (1-3) in which the contact centre took the department over; NULL when it does not handle it';

-- People who log in: agents, supervisors and administrators.
CREATE TABLE users (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	login text NOT NULL UNIQUE
		CONSTRAINT users_login_check CHECK (login ~ '^[a-z0-9._-]{1,64}$'),
	name text NOT NULL DEFAULT ''
		CONSTRAINT users_name_check CHECK (
			char_length(name) <= 200
			AND name = btrim(name)
			AND name !~ '[[:cntrl:]]'),
	role text NOT NULL
		CONSTRAINT users_role_check
		CHECK (role IN ('agent', 'supervisor', 'admin')),
	department_id bigint REFERENCES departments (id),
	-- libsodium crypto_pwhash_str: "$argon2id$v=19$m=...,t=...,p=1$..."
	password_hash text NOT NULL
		CONSTRAINT users_password_hash_check
		CHECK (password_hash LIKE '$argon2id$%'),
	disabled boolean NOT NULL DEFAULT false,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	password_changed_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX users_department_id_idx ON users (department_id);

CREATE TRIGGER users_touch BEFORE UPDATE ON users
	FOR EACH ROW EXECUTE FUNCTION ktd_touch_updated_at();

COMMENT ON TABLE users IS
	'People who log in; never deleted (cases and the audit log refer to them): disable instead';
COMMENT ON COLUMN users.password_hash IS
	'Argon2id hash from libsodium crypto_pwhash_str; the password itself is never stored';

-- Browser sessions. The cookie holds a random token; only its SHA-256 is
-- stored, so a copy of the table does not let anyone log in.
CREATE TABLE sessions (
	id_hash bytea PRIMARY KEY
		CONSTRAINT sessions_id_hash_check CHECK (length(id_hash) = 32),
	user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
	csrf_token text NOT NULL
		CONSTRAINT sessions_csrf_token_check
		CHECK (length(csrf_token) BETWEEN 32 AND 128),
	created_at timestamptz NOT NULL DEFAULT now(),
	last_seen_at timestamptz NOT NULL DEFAULT now(),
	expires_at timestamptz NOT NULL,
	peer text CONSTRAINT sessions_peer_check CHECK (length(peer) <= 64),
	user_agent text
		CONSTRAINT sessions_user_agent_check
		CHECK (length(user_agent) <= 512),
	CONSTRAINT sessions_expiry_check CHECK (expires_at > created_at)
);

-- The janitor deletes expired sessions; logging a user out everywhere (a
-- new password, a disabled user) deletes theirs.
CREATE INDEX sessions_expires_at_idx ON sessions (expires_at);
CREATE INDEX sessions_user_id_idx ON sessions (user_id);

COMMENT ON TABLE sessions IS
	'Server-side browser sessions, keyed by the SHA-256 of the cookie token (the token is never stored)';

-- Bearer tokens of integrations (the phone system, Digital Post, ...).
CREATE TABLE api_tokens (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	name text NOT NULL UNIQUE
		CONSTRAINT api_tokens_name_check
		CHECK (name ~ '^[A-Za-z0-9._-]{1,64}$'),
	token_hash bytea NOT NULL UNIQUE
		CONSTRAINT api_tokens_token_hash_check
		CHECK (length(token_hash) = 32),
	scopes text[] NOT NULL
		CONSTRAINT api_tokens_scopes_check CHECK (
			array_ndims(scopes) = 1
			AND cardinality(scopes) >= 1
			AND scopes <@ '{cti:write,digitalpost:write,read,admin}'::text[]),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by text NOT NULL
		CONSTRAINT api_tokens_created_by_check
		CHECK (char_length(created_by) BETWEEN 1 AND 200),
	last_used_at timestamptz,
	revoked_at timestamptz
);

COMMENT ON TABLE api_tokens IS
	'Bearer tokens of integrations, stored as the SHA-256 of the token; revoked, never deleted (names stay taken)';
COMMENT ON COLUMN api_tokens.created_by IS
	'Who made it: "kontaktctl:<unix user>" or "user:<login>"';

-- Failed logins, for throttling per login and per address. Rows older than
-- the throttling window are deleted by the janitor.
CREATE TABLE login_failures (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	login text NOT NULL
		CONSTRAINT login_failures_login_check CHECK (length(login) <= 256),
	peer text NOT NULL
		CONSTRAINT login_failures_peer_check CHECK (length(peer) <= 64),
	at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX login_failures_login_at_idx ON login_failures (login, at);
CREATE INDEX login_failures_peer_at_idx ON login_failures (peer, at);

COMMENT ON TABLE login_failures IS
	'Failed login attempts (the login as typed, not necessarily a user), for throttling';
