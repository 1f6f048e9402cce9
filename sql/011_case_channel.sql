-- SPDX-License-Identifier: MPL-2.0
-- What the inbox shows per row without asking for more: the channel
-- that opened the case, and the name of its assignee.
--
-- cases.channel is the channel of the case's first contact. It is set
-- where the first contact is stored, by the contacts trigger of
-- sql/006 (one UPDATE per statement, the one that already adds the
-- contact's lexemes, so a new case costs no extra row version), which
-- covers every writer: intake for every channel and a case recorded by
-- hand (whose channel is the one the agent chose: web, walk_in, note,
-- phone), and tools that insert contacts themselves. It never changes
-- afterwards: a merge moves contacts to a case that has its own.
--
-- NULL only for a case without a contact: one merged away before this
-- migration (its contacts moved to the case it was merged into, so its
-- first channel is no longer known) or one made without intake.

-- The backfill rewrites every case (as sql/006's did).
SET LOCAL statement_timeout = 0;

ALTER TABLE cases ADD COLUMN channel text
	CONSTRAINT cases_channel_check
	CHECK (channel IN ('phone', 'email', 'digital_post', 'web',
		'walk_in', 'note', 'outbound_email', 'outbound_dp'));

COMMENT ON COLUMN cases.channel IS
	'The channel of the case''s first contact (set by the contacts trigger); NULL: no contact known';

-- Filling the new column is not a change of the cases (cases_touch
-- would set every updated_at to now).
ALTER TABLE cases DISABLE TRIGGER cases_touch;
UPDATE cases c SET channel = f.channel
FROM (SELECT DISTINCT ON (case_id) case_id, channel
	FROM contacts ORDER BY case_id, occurred_at, id) f
WHERE c.id = f.case_id;
ALTER TABLE cases ENABLE TRIGGER cases_touch;

-- sql/006's trigger function, now also giving a case without a channel
-- the channel of its first new contact (earliest occurred_at, then id).
CREATE OR REPLACE FUNCTION ktd_contacts_search_to_case() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE cases c
	SET contact_search = ktd_tsvector_union(c.contact_search, n.search),
		channel = coalesce(c.channel, n.channel)
	FROM (SELECT case_id, ktd_tsvector_union_agg(search) AS search,
			(array_agg(channel ORDER BY occurred_at, id))[1]
				AS channel
		FROM new_contacts GROUP BY case_id) n
	WHERE c.id = n.case_id
		AND (c.channel IS NULL
			OR ktd_tsvector_union(c.contact_search, n.search)
				<> c.contact_search);
	RETURN NULL;
END;
$$;

-- The display name of a user for case answers: the name, else the
-- login.
CREATE FUNCTION ktd_user_display_name(u users) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT coalesce(nullif(u.name, ''), u.login)
$$;

-- The case as the API shows it, now with channel and assignee_name.
-- As sql/006's three-argument form, what would be a subquery per case is
-- given (the contact count, the assignee's name), so that the function
-- is inlined where a page calls it; the shorter forms stay for single
-- cases and answer the same JSON.
CREATE FUNCTION ktd_case_json(c cases, show_cpr boolean, contact_count bigint,
	assignee_name text)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id,
		'reference', c.reference,
		'status', c.status,
		'resolution', c.resolution,
		'category', c.category,
		'department_id', c.department_id,
		'assignee_id', c.assignee_id,
		'assignee_name', assignee_name,
		'channel', c.channel,
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
		'contact_count', contact_count)
$$;

CREATE OR REPLACE FUNCTION ktd_case_json(c cases, show_cpr boolean,
	contact_count bigint)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT ktd_case_json(c, show_cpr, contact_count,
		(SELECT ktd_user_display_name(u) FROM users u
			WHERE u.id = c.assignee_id))
$$;

-- The live stream's case gets both too: an inbox row that changes live
-- must not keep the name of the assignee it had.
CREATE OR REPLACE FUNCTION ktd_live_case_json(c cases) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object(
		'id', c.id,
		'reference', c.reference,
		'status', c.status,
		'resolution', c.resolution,
		'category', c.category,
		'department_id', c.department_id,
		'assignee_id', c.assignee_id,
		'assignee_name', (SELECT ktd_user_display_name(u) FROM users u
			WHERE u.id = c.assignee_id),
		'channel', c.channel,
		'subject', c.subject,
		'created_at', ktd_rfc3339(c.created_at),
		'updated_at', ktd_rfc3339(c.updated_at),
		'last_contact_at', ktd_rfc3339(c.last_contact_at),
		'merged_into_id', c.merged_into_id,
		'version', c.version)
$$;
