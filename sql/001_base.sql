-- SPDX-License-Identifier: MPL-2.0
-- Base objects shared by the later schema: a trigger function that keeps
-- updated_at current. Migrations run inside a transaction opened by
-- kontaktctl/kontaktd: no BEGIN/COMMIT here.

CREATE FUNCTION ktd_touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END;
$$;

COMMENT ON FUNCTION ktd_touch_updated_at() IS
	'BEFORE UPDATE trigger: sets updated_at to the transaction time';
