-- SPDX-License-Identifier: MPL-2.0
-- The case list at a million cases (tools/bench api): an indexed filter
-- for full-text search over contacts, and a cheaper case JSON for pages.
--
-- Search. A case matches q when its own fields (cases.search) or one of
-- its contacts (contacts.search) match. Only cases.search was indexed on
-- the case: the contact half was an EXISTS per case, so a search walked
-- the cases newest first and looked at each one's contacts until a page
-- was full, which for a rare word is most of the table.
--
-- cases.contact_search holds, without positions, every lexeme of every
-- contact the case has had, kept by the triggers below. It is a filter,
-- not the answer: the list asks that cases.search or contact_search
-- match ktd_case_search_filter(q) (both GIN-indexed, so the planner may
-- start from the matches), and then still asks the exact question, "the
-- case or one of its contacts matches q". The exact test decides, so
-- the answers are the same as before to the row; the filter only has to
-- let every true match through:
--   - contact_search only grows (a contact deleted or moved leaves its
--     lexemes behind, which costs a recheck, never a miss);
--   - a contact that matches q has every lexeme the filter asks for: the
--     filter is q without its negations and with phrases relaxed to "all
--     these words";
--   - a case whose lexemes would not fit in one tsvector (1 MB) gets the
--     marker lexeme 'ktd overflow' instead (no text yields a lexeme with
--     a space), and the filter always accepts the marker.

-- The backfill below rewrites every case: on a big table it takes longer
-- than the [database] statement_timeout the migrating connection has.
SET LOCAL statement_timeout = 0;

CREATE FUNCTION ktd_tsvector_union(a tsvector, b tsvector) RETURNS tsvector
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT CASE
		WHEN a = '''ktd overflow'''::tsvector THEN a
		-- tsvector_out's text is longer than the lexemes it lists, so
		-- this errs on the safe side of the 1 MB limit.
		WHEN octet_length(a::text) + octet_length(b::text) > 1000000
			THEN '''ktd overflow'''::tsvector
		ELSE strip(a || b) END
$$;

COMMENT ON FUNCTION ktd_tsvector_union(tsvector, tsvector) IS
	'The lexemes of both, without positions; the marker ''ktd overflow'' when they would not fit';

CREATE AGGREGATE ktd_tsvector_union_agg(tsvector) (
	SFUNC = ktd_tsvector_union,
	STYPE = tsvector,
	INITCOND = ''
);

ALTER TABLE cases ADD COLUMN contact_search tsvector NOT NULL DEFAULT '';

COMMENT ON COLUMN cases.contact_search IS
	'Every lexeme the case''s contacts have had (a superset), or ''ktd overflow''; kept by the contacts triggers, a search filter only';

-- Filling the new column is not a change of the cases: cases_touch would
-- set every updated_at to now.
ALTER TABLE cases DISABLE TRIGGER cases_touch;
UPDATE cases c SET contact_search = n.search
FROM (SELECT case_id, ktd_tsvector_union_agg(search) AS search
	FROM contacts GROUP BY case_id) n
WHERE c.id = n.case_id;
ALTER TABLE cases ENABLE TRIGGER cases_touch;

-- One UPDATE per statement and case, and none when the case has the
-- lexemes already. The new value is computed from the row being updated,
-- so two transactions adding to one case both land. Like any UPDATE of
-- the case it sets updated_at (cases_touch), as intake and notes do in
-- the same transaction anyway.
CREATE FUNCTION ktd_contacts_search_to_case() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	UPDATE cases c
	SET contact_search = ktd_tsvector_union(c.contact_search, n.search)
	FROM (SELECT case_id, ktd_tsvector_union_agg(search) AS search
		FROM new_contacts GROUP BY case_id) n
	WHERE c.id = n.case_id
		AND ktd_tsvector_union(c.contact_search, n.search)
			<> c.contact_search;
	RETURN NULL;
END;
$$;

CREATE TRIGGER contacts_search_insert AFTER INSERT ON contacts
	REFERENCING NEW TABLE AS new_contacts
	FOR EACH STATEMENT EXECUTE FUNCTION ktd_contacts_search_to_case();
-- Transition tables rule out a column list: any UPDATE of contacts adds
-- the new rows' lexemes (a changed text, a contact moved to another case).
CREATE TRIGGER contacts_search_update AFTER UPDATE ON contacts
	REFERENCING NEW TABLE AS new_contacts
	FOR EACH STATEMENT EXECUTE FUNCTION ktd_contacts_search_to_case();

CREATE INDEX cases_contact_search_idx ON cases USING gin (contact_search);

-- The filter for q: the part of the query an index can answer
-- (querytree(): negations dropped), with phrases relaxed to "all these
-- words" (contact_search has no positions, and a phrase never matches a
-- tsvector without them), or the marker. NULL when nothing can be asked
-- of an index (a query of negations only): then every case is a
-- candidate. The rewrite works on tsquery's text, in which every lexeme
-- is quoted ('it''s'): a "<N>" outside quotes is a phrase operator, and
-- "&" takes its place without changing the meaning of the rest (both
-- bind tighter than "|"). IMMUTABLE: for q given as a value the planner
-- computes it once, as a constant.
CREATE FUNCTION ktd_case_search_filter(q text) RETURNS tsquery
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
	SELECT CASE WHEN t.tree = 'T' THEN NULL
		ELSE (SELECT coalesce(string_agg(CASE WHEN m[1] LIKE '<%'
				THEN '&' ELSE m[1] END, '' ORDER BY n), '')
			FROM regexp_matches(t.tree,
				'(''(?:[^'']|'''')*''|<[0-9-]+>|[^''<]+)', 'g')
				WITH ORDINALITY AS x (m, n))::tsquery
			|| '''ktd overflow'''::tsquery END
	FROM (SELECT querytree(websearch_to_tsquery('danish'::regconfig, q))
		AS tree) t
$$;

COMMENT ON FUNCTION ktd_case_search_filter(text) IS
	'A tsquery that every case matching q (in cases.search or contact_search) matches; NULL: no filter';

-- Pages. ktd_case_json() counted the contacts in a subquery, which kept
-- PostgreSQL from inlining it: every case of a page started a function
-- executor of its own, half the time of a page of 50. With the count
-- given, the function is one expression that is inlined where it is
-- called; the two-argument form stays for single cases and answers the
-- same JSON.
CREATE FUNCTION ktd_case_json(c cases, show_cpr boolean, contact_count bigint)
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

CREATE OR REPLACE FUNCTION ktd_case_json(c cases, show_cpr boolean)
RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT ktd_case_json(c, show_cpr,
		(SELECT count(*) FROM contacts ct WHERE ct.case_id = c.id))
$$;
