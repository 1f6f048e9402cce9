-- SPDX-License-Identifier: MPL-2.0
-- Follow-up cases. A citizen's e-mail that threads (by the subject tag,
-- In-Reply-To or References) onto a case that is closed, or that was
-- resolved longer ago than [intake] reopen_within, opens a new case that
-- points to the old one; the old case stays as it was. (A reply to a case
-- resolved more recently reopens that case instead.)
--
-- The old case's reference is kept beside its id: references never
-- change, and with it ktd_case_json() stays one inlinable expression
-- (a subquery for the reference would make every case of a list page
-- run a function executor of its own, see sql/006_case_perf.sql).

ALTER TABLE cases
	ADD COLUMN follow_up_of_id bigint REFERENCES cases (id),
	ADD COLUMN follow_up_of_reference text,
	ADD CONSTRAINT cases_follow_up_check
		CHECK ((follow_up_of_id IS NULL) = (follow_up_of_reference IS NULL)),
	ADD CONSTRAINT cases_follow_up_self_check
		CHECK (follow_up_of_id <> id);

CREATE INDEX cases_follow_up_of_idx ON cases (follow_up_of_id)
	WHERE follow_up_of_id IS NOT NULL;

COMMENT ON COLUMN cases.follow_up_of_id IS
	'The finished case this case follows up (a citizen wrote again after it was closed)';

-- The case as the API shows it (sql/011's form, which the shorter forms
-- call), now with follow_up_of.
CREATE OR REPLACE FUNCTION ktd_case_json(c cases, show_cpr boolean,
	contact_count bigint, assignee_name text)
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
		'follow_up_of', CASE WHEN c.follow_up_of_id IS NOT NULL THEN
			jsonb_build_object('id', c.follow_up_of_id,
				'reference', c.follow_up_of_reference) END,
		'version', c.version,
		'contact_count', contact_count)
$$;
