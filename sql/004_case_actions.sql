-- SPDX-License-Identifier: MPL-2.0
-- Case actions (resolve, forward, notes, reopen). A forwarded case keeps
-- the resolution "forwarded": the contact centre's part ends with the
-- hand-over, which the statistics count, while the case is still worked
-- in the department. 003 allowed a resolution on resolved and closed
-- cases only.
ALTER TABLE cases DROP CONSTRAINT cases_resolution_status_check;
ALTER TABLE cases ADD CONSTRAINT cases_resolution_status_check
	CHECK (resolution IS NULL OR status IN ('forwarded', 'resolved', 'closed'));
