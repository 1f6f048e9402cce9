/* SPDX-License-Identifier: MPL-2.0 */
/* Cases: POST /api/v1/cases (an agent records a contact by hand, through
 * intake like every channel), GET /api/v1/cases (the filtered, cursor-
 * paginated list, oldest or newest first, or one reference),
 * GET /api/v1/cases/counts (the list's filters counted per channel and
 * status, up to a cap), GET /api/v1/cases/{id} (one case with its contacts;
 * audited) and PATCH /api/v1/cases/{id} (category, department, assignee,
 * subject; optimistic concurrency on the case's version), and the
 * actions POST /api/v1/cases/{id}/resolve, /forward, /notes, /reopen,
 * /merge and /replies (the case row locked; the version checked when the
 * client sends one).
 *
 * CPR numbers are shown in full to supervisors, admins and admin-scope
 * tokens only; everybody else sees "DDMMYY-XXXX". */
#include "api/api_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/str.h"
#include "api/api_int.h"
#include "core/call.h"
#include "core/case.h"
#include "core/case_action.h"
#include "core/intake.h"
#include "db/db_audit.h"
#include "db/db_case.h"
#include "db/db_contact.h"
#include "http/json.h"

#define CASE_SUBJECT_MAX 500     /* bytes */
#define CASE_TEXT_MAX 65536      /* bytes */
#define CASE_NAME_MAX 200        /* bytes */
#define CASE_EMAIL_MAX 254       /* bytes */
#define CASE_EXTERNAL_ID_MAX 200 /* bytes */
#define CASE_QUERY_MAX 200       /* bytes of a search */
#define CASE_LIST_DEFAULT 50
#define CASE_LIST_MAX 100
/* GET /api/v1/cases/counts counts the newest this many matching cases
 * (and one more, to know whether there are more): enough for a tab's
 * label, and few enough that counting over a million cases stays cheap
 * (sql: db_case_counts). */
#define CASE_COUNT_CAP 1000
#define CASE_CATEGORY_MAX 100 /* characters, as sql/003 allows */
#define CASE_REASON_MAX 2000  /* characters */
#define CASE_NOTE_MAX 10000   /* characters */

static bool may_see_cpr(const struct auth_principal *who)
{
	if (who->kind == AUTH_SESSION)
		return who->role == USER_ROLE_SUPERVISOR ||
		       who->role == USER_ROLE_ADMIN;
	return (who->scopes & TOKEN_SCOPE_ADMIN) != 0;
}

/* Single-line text: no control characters. */
static int check_line(const char *field, const char *s, struct ktd_error *err)
{
	for (; s && *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
			                     "field '%s' contains a control "
			                     "character",
			                     field);
	}
	return 0;
}

/* The case with its contacts and forwards, as a new JSON object; 1, 0 or
 * -1. */
static int case_with_contacts(struct api_call *call, int64_t id,
                              json_t **case_r, struct ktd_error *err)
{
	char *case_text = NULL, *contacts_text = NULL, *forwards_text = NULL;
	json_t *c = NULL, *contacts = NULL, *forwards = NULL;
	int r;

	r = db_case_get_json(call->pg, id, may_see_cpr(&call->who), &case_text,
	                     err);
	if (r <= 0)
		return r;
	r = -1;
	if (db_contact_list_json(call->pg, id, &contacts_text, err) < 0 ||
	    db_case_forwards_json(call->pg, id, &forwards_text, err) < 0)
		goto out;
	c = json_loads(case_text, 0, NULL);
	contacts = json_loads(contacts_text, 0, NULL);
	forwards = json_loads(forwards_text, 0, NULL);
	if (!c || !contacts || !forwards) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "case %" PRId64
		              ": unreadable JSON from the database",
		              id);
		goto out;
	}
	json_object_set_new(c, "contacts", contacts);
	json_object_set_new(c, "forwards", forwards);
	contacts = NULL;
	forwards = NULL;
	*case_r = c;
	c = NULL;
	r = 1;
out:
	json_decref(c);
	json_decref(contacts);
	json_decref(forwards);
	free(case_text);
	free(contacts_text);
	free(forwards_text);
	return r;
}

static void api_case_create(struct api_call *call)
{
	static const char *const fields[] = {
	        "subject",       "text",        "channel",        "citizen",
	        "department_id", "external_id", "case_reference", NULL};
	static const char *const citizen_fields[] = {"name", "phone", "email",
	                                             "cpr",  "cvr",   NULL};
	static const char *const channels[] = {"web", "walk_in", "note",
	                                       "phone", NULL};
	struct intake_config cfg = {call->api->intake_thread_window_s};
	struct intake_contact in;
	struct intake_result out;
	struct ktd_error err;
	json_t *body = NULL, *citizen, *c = NULL;
	const char *phone = NULL;
	char phone_norm[CALL_NUMBER_SIZE], location[64];
	json_int_t dept = 0;
	size_t i;

	memset(&in, 0, sizeof(in));
	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    ktd_json_get_str(body, "channel", KTD_JSON_REQUIRED, 16,
	                     &in.channel, &err) < 0 ||
	    ktd_json_get_str(body, "subject", KTD_JSON_OPTIONAL,
	                     CASE_SUBJECT_MAX, &in.subject, &err) < 0 ||
	    check_line("subject", in.subject, &err) < 0 ||
	    ktd_json_get_str(body, "text", KTD_JSON_REQUIRED, CASE_TEXT_MAX,
	                     &in.body, &err) < 0 ||
	    ktd_json_get_int(body, "department_id", KTD_JSON_OPTIONAL, 1,
	                     INT64_MAX, &dept, &err) < 0 ||
	    ktd_json_get_str(body, "external_id", KTD_JSON_OPTIONAL,
	                     CASE_EXTERNAL_ID_MAX, &in.external_id, &err) < 0 ||
	    check_line("external_id", in.external_id, &err) < 0 ||
	    ktd_json_get_str(body, "case_reference", KTD_JSON_OPTIONAL, 20,
	                     &in.case_reference, &err) < 0)
		goto fail;
	for (i = 0; channels[i]; i++) {
		if (strcmp(in.channel, channels[i]) == 0)
			break;
	}
	if (!channels[i]) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'channel' must be one of web, walk_in, "
		              "note, phone");
		goto fail;
	}
	if (in.external_id && !*in.external_id) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'external_id' must not be empty");
		goto fail;
	}
	if (in.case_reference && !case_reference_valid(in.case_reference)) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'case_reference' must look like "
		              "2026-000123");
		goto fail;
	}
	citizen = json_object_get(body, "citizen");
	if (citizen && !json_is_null(citizen)) {
		if (!json_is_object(citizen)) {
			ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
			              "field 'citizen' must be an object");
			goto fail;
		}
		if (ktd_json_check_fields(citizen, citizen_fields, &err) < 0 ||
		    ktd_json_get_str(citizen, "name", KTD_JSON_OPTIONAL,
		                     CASE_NAME_MAX, &in.citizen_name,
		                     &err) < 0 ||
		    check_line("name", in.citizen_name, &err) < 0 ||
		    ktd_json_get_str(citizen, "phone", KTD_JSON_OPTIONAL, 40,
		                     &phone, &err) < 0 ||
		    ktd_json_get_str(citizen, "email", KTD_JSON_OPTIONAL,
		                     CASE_EMAIL_MAX, &in.citizen_email,
		                     &err) < 0 ||
		    ktd_json_get_str(citizen, "cpr", KTD_JSON_OPTIONAL, 10,
		                     &in.citizen_cpr, &err) < 0 ||
		    ktd_json_get_str(citizen, "cvr", KTD_JSON_OPTIONAL, 8,
		                     &in.citizen_cvr, &err) < 0) {
			ktd_error_prefix(&err, "citizen: ");
			goto fail;
		}
		/* E.164, as the phone channel stores callers, so that a
		 * call finds the case recorded by hand. */
		if (phone && call_number_normalise(phone, phone_norm) !=
		                     CALL_NUMBER_E164) {
			ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
			              "citizen: field 'phone' must be a phone "
			              "number (12345678 or +4512345678)");
			goto fail;
		}
		if (in.citizen_email &&
		    (!strchr(in.citizen_email, '@') ||
		     strpbrk(in.citizen_email, " \t\r\n"))) {
			ktd_error_set(
			        &err, KTD_ERR_UNPROCESSABLE,
			        "citizen: field 'email' must be an e-mail "
			        "address");
			goto fail;
		}
		/* The message names the field, never the value. */
		if (in.citizen_cpr && !case_cpr_valid(in.citizen_cpr)) {
			ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
			              "citizen: field 'cpr' must be 10 digits");
			goto fail;
		}
		if (in.citizen_cvr && !case_cvr_valid(in.citizen_cvr)) {
			ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
			              "citizen: field 'cvr' must be 8 digits");
			goto fail;
		}
		if (in.citizen_name && !*in.citizen_name)
			in.citizen_name = NULL;
		if (in.citizen_email && !*in.citizen_email)
			in.citizen_email = NULL;
	}
	in.citizen_phone = phone ? phone_norm : NULL;
	in.direction = strcmp(in.channel, "note") == 0 ? "internal" : "in";
	in.department_id = dept;
	in.actor_user_id = call->who.user_id;
	in.peer = call->req->peer;
	if (in.channel[0] == 'p')
		in.from_addr = in.citizen_phone;
	if (intake_submit(call->pg, &in, &cfg, &out, &err) < 0)
		goto fail;
	if (case_with_contacts(call, out.case_id, &c, &err) <= 0) {
		if (err.code == KTD_ERR_NONE)
			ktd_error_set(&err, KTD_ERR_INTERNAL, "case vanished");
		goto fail;
	}
	snprintf(location, sizeof(location), "/api/v1/cases/%" PRId64,
	         out.case_id);
	ktd_http_resp_header(call->resp, "Location", location);
	json_object_set_new(c, "contact_id", json_integer(out.contact_id));
	ktd_http_resp_json(call->resp, out.duplicate ? 200 : 201, c);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

/* The {id} of the path; answers 404 itself and returns -1 when it is not
 * a case id. */
static int path_id(struct api_call *call, int64_t *id_r)
{
	*id_r = api_path_id(call);
	if (*id_r == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such case");
		return -1;
	}
	return 0;
}

/* ETag: the case's version, so that If-Match can hand it back. */
static void set_etag(struct api_call *call, const json_t *c)
{
	char etag[32];

	snprintf(etag, sizeof(etag), "\"%" JSON_INTEGER_FORMAT "\"",
	         json_integer_value(json_object_get(c, "version")));
	ktd_http_resp_header(call->resp, "ETag", etag);
}

static void api_case_get(struct api_call *call)
{
	struct db_audit_actor actor;
	struct ktd_error err;
	json_t *c = NULL;
	int64_t id;
	int r;

	if (path_id(call, &id) < 0)
		return;
	r = case_with_contacts(call, id, &c, &err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such case");
		return;
	}
	/* No read without its audit row: if it cannot be written, the
	 * case is not shown. */
	api_actor(call, &actor);
	if (db_audit_add(call->pg, &actor, "read", id, NULL, &err) < 0)
		goto fail;
	set_etag(call, c);
	ktd_http_resp_json(call->resp, 200, c);
	return;
fail:
	json_decref(c);
	api_fail(call, &err);
}

/* The version the client saw: "version" in the body, else If-Match ("3"
 * or 3). Returns 0, or -1 with err naming version. */
static int patch_version(struct api_call *call, const json_t *body,
                         int64_t *version_r, struct ktd_error *err)
{
	const char *h = ktd_http_req_header(call->req, "If-Match");
	json_int_t v = 0;
	char digits[16];
	uint32_t u;
	size_t n;

	if (ktd_json_get_int(body, "version", KTD_JSON_OPTIONAL, 1, INT32_MAX,
	                     &v, err) < 0)
		return -1;
	if (v > 0) {
		*version_r = v;
		return 0;
	}
	if (!h)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field 'version' is required (or send "
		                     "If-Match)");
	n = strlen(h);
	if (n >= 2 && h[0] == '"' && h[n - 1] == '"') {
		h++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(digits))
		goto bad;
	memcpy(digits, h, n);
	digits[n] = '\0';
	if (ktd_parse_u32(digits, &u) < 0 || u == 0 || u > INT32_MAX)
		goto bad;
	*version_r = u;
	return 0;
bad:
	return ktd_error_set(err, KTD_ERR_INVALID,
	                     "header If-Match must be the case's version, "
	                     "as its ETag gave it");
}

/* An optional nullable id field: sets *set_r when present. */
static int patch_id(const json_t *body, const char *key, bool *set_r,
                    int64_t *v_r, struct ktd_error *err)
{
	const json_t *v = json_object_get(body, key);
	json_int_t i = 0;

	if (!v)
		return 0;
	*set_r = true;
	if (json_is_null(v))
		return 0;
	if (ktd_json_get_int(body, key, KTD_JSON_REQUIRED, 1, INT64_MAX, &i,
	                     err) < 0)
		return -1;
	*v_r = i;
	return 0;
}

static void api_case_patch(struct api_call *call)
{
	static const char *const fields[] = {"category",    "department_id",
	                                     "assignee_id", "subject",
	                                     "version",     NULL};
	struct db_case_patch p;
	struct case_actor actor;
	struct ktd_error err;
	json_t *body = NULL, *c = NULL;
	char *text = NULL;
	int64_t id, version = 0;

	memset(&p, 0, sizeof(p));
	if (path_id(call, &id) < 0)
		return;
	if (api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    patch_version(call, body, &version, &err) < 0 ||
	    ktd_json_get_str(body, "category", KTD_JSON_OPTIONAL, 100,
	                     &p.category, &err) < 0 ||
	    check_line("category", p.category, &err) < 0 ||
	    ktd_json_get_str(body, "subject", KTD_JSON_OPTIONAL,
	                     CASE_SUBJECT_MAX, &p.subject, &err) < 0 ||
	    check_line("subject", p.subject, &err) < 0 ||
	    patch_id(body, "department_id", &p.set_department, &p.department_id,
	             &err) < 0 ||
	    patch_id(body, "assignee_id", &p.set_assignee, &p.assignee_id,
	             &err) < 0)
		goto fail;
	p.set_category = json_object_get(body, "category") != NULL;
	if (p.category && !*p.category)
		p.category = NULL;
	p.set_subject = json_object_get(body, "subject") != NULL;
	if (p.set_subject && !p.subject) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'subject' must be a string");
		goto fail;
	}
	api_case_actor(call, &actor);
	if (case_update(call->pg, id, version, &p, &actor,
	                may_see_cpr(&call->who), &text, &err) < 0) {
		if (err.code == KTD_ERR_CONFLICT && text) {
			api_conflict(call, err.msg, "case",
			             json_loads(text, 0, NULL));
			free(text);
			json_decref(body);
			return;
		}
		goto fail;
	}
	c = json_loads(text, 0, NULL);
	free(text);
	if (!c) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "case: unreadable JSON from the database");
		goto fail;
	}
	set_etag(call, c);
	ktd_http_resp_json(call->resp, 200, c);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

/* Characters of UTF-8 text (the body parser has checked the encoding). */
static size_t utf8_chars(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		if (((unsigned char)*s & 0xc0) != 0x80)
			n++;
	}
	return n;
}

/* An optional string field of at most max characters. */
static int get_text(const json_t *body, const char *key, bool required,
                    size_t max, const char **v_r, struct ktd_error *err)
{
	if (ktd_json_get_str(body, key, required, max * 4, v_r, err) < 0)
		return -1;
	if (*v_r && utf8_chars(*v_r) > max)
		return ktd_error_set(err, KTD_ERR_UNPROCESSABLE,
		                     "field '%s' is longer than %zu characters",
		                     key, max);
	return 0;
}

/* The version of an action: like PATCH's, but optional (0: any). */
static int action_version(struct api_call *call, const json_t *body,
                          int64_t *version_r, struct ktd_error *err)
{
	*version_r = 0;
	if (!json_object_get(body, "version") &&
	    !ktd_http_req_header(call->req, "If-Match"))
		return 0;
	return patch_version(call, body, version_r, err);
}

/* Answers the outcome of an action: text is the new case (or with
 * status 201 the new contact), or on a conflict the current case. Frees
 * text. */
static void action_answer(struct api_call *call, int r, int status, char *text,
                          struct ktd_error *err)
{
	json_t *j;

	if (r < 0 && !(err->code == KTD_ERR_CONFLICT && text)) {
		free(text);
		api_fail(call, err);
		return;
	}
	j = json_loads(text, 0, NULL);
	free(text);
	if (r < 0) {
		api_conflict(call, err->msg, "case", j);
		return;
	}
	if (!j) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "case: unreadable JSON from the database");
		api_fail(call, err);
		return;
	}
	if (status == 200)
		set_etag(call, j);
	ktd_http_resp_json(call->resp, status, j);
}

static void api_case_resolve(struct api_call *call)
{
	static const char *const fields[] = {"resolution", "category",
	                                     "version", NULL};
	struct case_actor actor;
	struct ktd_error err;
	const char *resolution = NULL, *category = NULL;
	json_t *body = NULL;
	char *text = NULL;
	int64_t id, version;
	int r;

	if (path_id(call, &id) < 0 || api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    action_version(call, body, &version, &err) < 0 ||
	    ktd_json_get_str(body, "resolution", KTD_JSON_REQUIRED, 64,
	                     &resolution, &err) < 0 ||
	    get_text(body, "category", KTD_JSON_OPTIONAL, CASE_CATEGORY_MAX,
	             &category, &err) < 0 ||
	    check_line("category", category, &err) < 0)
		goto fail;
	if (!case_action_resolution_valid(resolution)) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'resolution' must be one of "
		              "resolved_first_contact, answered_later, "
		              "callback, duplicate, spam");
		goto fail;
	}
	if (category && !*category)
		category = NULL;
	api_case_actor(call, &actor);
	r = case_action_resolve(call->pg, id, version, resolution, category,
	                        &actor, may_see_cpr(&call->who), &text, &err);
	action_answer(call, r, 200, text, &err);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

static void api_case_forward(struct api_call *call)
{
	static const char *const fields[] = {"department_id", "method",
	                                     "reason", "version", NULL};
	struct case_mail mail;
	struct case_actor actor;
	struct ktd_error err;
	const char *method = NULL, *reason = NULL;
	json_t *body = NULL;
	json_int_t dept = 0;
	char *text = NULL;
	int64_t id, version;
	int r;

	if (path_id(call, &id) < 0 || api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    action_version(call, body, &version, &err) < 0 ||
	    ktd_json_get_int(body, "department_id", KTD_JSON_REQUIRED, 1,
	                     INT64_MAX, &dept, &err) < 0 ||
	    ktd_json_get_str(body, "method", KTD_JSON_REQUIRED, 32, &method,
	                     &err) < 0 ||
	    get_text(body, "reason", KTD_JSON_OPTIONAL, CASE_REASON_MAX,
	             &reason, &err) < 0)
		goto fail;
	if (!case_action_method_valid(method)) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'method' must be one of queue, "
		              "hunt_group, ivr, callback, direct, email");
		goto fail;
	}
	mail.from = call->api->mail_from;
	mail.subject_tag = call->api->subject_tag;
	api_case_actor(call, &actor);
	r = case_action_forward(call->pg, id, version, dept, method, reason,
	                        mail.from && *mail.from ? &mail : NULL, &actor,
	                        may_see_cpr(&call->who), &text, &err);
	action_answer(call, r, 200, text, &err);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

static void api_case_note(struct api_call *call)
{
	static const char *const fields[] = {"text", "version", NULL};
	struct case_actor actor;
	struct ktd_error err;
	const char *note = NULL;
	json_t *body = NULL;
	char *text = NULL;
	int64_t id, version;
	int r;

	if (path_id(call, &id) < 0 || api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    action_version(call, body, &version, &err) < 0 ||
	    get_text(body, "text", KTD_JSON_REQUIRED, CASE_NOTE_MAX, &note,
	             &err) < 0)
		goto fail;
	if (!*note) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'text' must not be empty");
		goto fail;
	}
	api_case_actor(call, &actor);
	r = case_action_note_add(call->pg, id, version, note, &actor,
	                         may_see_cpr(&call->who), &text, &err);
	action_answer(call, r, 201, text, &err);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

static void api_case_reopen(struct api_call *call)
{
	static const char *const fields[] = {"version", NULL};
	struct case_actor actor;
	struct ktd_error err;
	json_t *body = NULL;
	char *text = NULL;
	int64_t id, version;
	int r;

	if (path_id(call, &id) < 0 || api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    action_version(call, body, &version, &err) < 0) {
		api_fail(call, &err);
		json_decref(body);
		return;
	}
	api_case_actor(call, &actor);
	r = case_action_reopen(call->pg, id, version, &actor,
	                       may_see_cpr(&call->who), &text, &err);
	action_answer(call, r, 200, text, &err);
	json_decref(body);
}

static void api_case_merge(struct api_call *call)
{
	static const char *const fields[] = {"into", "version", NULL};
	struct case_actor actor;
	struct ktd_error err;
	json_t *body = NULL;
	json_int_t into = 0;
	char *text = NULL;
	int64_t id, version;
	int r;

	if (path_id(call, &id) < 0 || api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    action_version(call, body, &version, &err) < 0 ||
	    ktd_json_get_int(body, "into", KTD_JSON_REQUIRED, 1, INT64_MAX,
	                     &into, &err) < 0) {
		api_fail(call, &err);
		json_decref(body);
		return;
	}
	api_case_actor(call, &actor);
	r = case_action_merge(call->pg, id, version, into, &actor,
	                      may_see_cpr(&call->who), &text, &err);
	action_answer(call, r, 200, text, &err);
	json_decref(body);
}

static void api_case_reply(struct api_call *call)
{
	static const char *const fields[] = {"to", "subject", "text", "version",
	                                     NULL};
	struct case_reply reply;
	struct case_actor actor;
	struct ktd_error err;
	json_t *body = NULL;
	char *text = NULL;
	int64_t id, version;
	int r;

	memset(&reply, 0, sizeof(reply));
	if (path_id(call, &id) < 0 || api_json_body(call, &body) < 0)
		return;
	if (ktd_json_check_fields(body, fields, &err) < 0 ||
	    action_version(call, body, &version, &err) < 0 ||
	    ktd_json_get_str(body, "to", KTD_JSON_OPTIONAL, CASE_EMAIL_MAX,
	                     &reply.to, &err) < 0 ||
	    get_text(body, "subject", KTD_JSON_OPTIONAL, CASE_SUBJECT_MAX,
	             &reply.subject, &err) < 0 ||
	    check_line("subject", reply.subject, &err) < 0 ||
	    ktd_json_get_str(body, "text", KTD_JSON_REQUIRED, CASE_TEXT_MAX,
	                     &reply.text, &err) < 0)
		goto fail;
	if (!*reply.text) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'text' must not be empty");
		goto fail;
	}
	if (reply.to && !case_mail_address_valid(reply.to)) {
		ktd_error_set(&err, KTD_ERR_UNPROCESSABLE,
		              "field 'to' is not a plain e-mail address "
		              "(name@example.dk)");
		goto fail;
	}
	if (!call->api->mail_from || !*call->api->mail_from) {
		ktd_http_resp_error(call->resp, 503, "not_configured",
		                    "outbound e-mail is not configured: set "
		                    "[smtp] from");
		json_decref(body);
		return;
	}
	reply.from = call->api->mail_from;
	reply.subject_tag = call->api->subject_tag;
	reply.user_id = call->who.kind == AUTH_SESSION ? call->who.user_id : 0;
	api_case_actor(call, &actor);
	r = case_action_reply(call->pg, id, version, &reply, &actor,
	                      may_see_cpr(&call->who), &text, &err);
	action_answer(call, r, 201, text, &err);
	json_decref(body);
	return;
fail:
	api_fail(call, &err);
	json_decref(body);
}

/* Reads and checks the list's filters (the query parameters the list
 * and the counts share) into f; answers 400 naming the parameter and
 * returns -1 on the first bad one. */
static int list_filter(struct api_call *call, struct db_case_filter *f)
{
	const char *s;

	memset(f, 0, sizeof(*f));
	f->limit = CASE_LIST_DEFAULT;
	f->status = ktd_http_req_query(call->req, "status");
	if (f->status && !case_status_valid(f->status))
		return api_bad_param(call, "status",
		                     "must be one of new, open, forwarded, "
		                     "resolved, closed");
	f->channel = ktd_http_req_query(call->req, "channel");
	if (f->channel && !case_channel_valid(f->channel))
		return api_bad_param(call, "channel", "is not a channel");
	if (api_query_id(call, "department_id", &f->department_id) < 0)
		return -1;
	s = ktd_http_req_query(call->req, "assignee_id");
	if (s && strcmp(s, "me") == 0) {
		if (call->who.kind != AUTH_SESSION)
			return api_bad_param(call, "assignee_id",
			                     "'me' needs a user session");
		f->assignee_id = call->who.user_id;
	} else if (api_query_id(call, "assignee_id", &f->assignee_id) < 0) {
		return -1;
	}
	f->created_from = ktd_http_req_query(call->req, "created_from");
	if (f->created_from && !case_rfc3339_valid(f->created_from))
		return api_bad_param(call, "created_from",
		                     "must be an RFC 3339 timestamp");
	f->created_to = ktd_http_req_query(call->req, "created_to");
	if (f->created_to && !case_rfc3339_valid(f->created_to))
		return api_bad_param(call, "created_to",
		                     "must be an RFC 3339 timestamp");
	f->q = ktd_http_req_query(call->req, "q");
	if (f->q) {
		struct ktd_error err;

		if (strlen(f->q) > CASE_QUERY_MAX)
			return api_bad_param(call, "q", "is too long");
		if (check_line("q", f->q, &err) < 0)
			return api_bad_param(call, "q",
			                     "contains a control character");
		if (!*f->q)
			f->q = NULL;
	}
	f->reference = ktd_http_req_query(call->req, "reference");
	if (f->reference && !case_reference_valid(f->reference))
		return api_bad_param(call, "reference",
		                     "must be a case reference like "
		                     "2026-000123");
	return 0;
}

/* The list's order, page size and cursor, like list_filter. */
static int list_paging(struct api_call *call, struct db_case_filter *f)
{
	const char *s;
	uint32_t limit;

	s = ktd_http_req_query(call->req, "order");
	if (s && strcmp(s, "asc") == 0)
		f->ascending = true;
	else if (s && strcmp(s, "desc") != 0)
		return api_bad_param(call, "order", "must be asc or desc");
	s = ktd_http_req_query(call->req, "limit");
	if (s) {
		if (ktd_parse_u32(s, &limit) < 0 || limit < 1 ||
		    limit > CASE_LIST_MAX)
			return api_bad_param(
			        call, "limit",
			        "must be an integer from 1 to 100");
		f->limit = limit;
	}
	s = ktd_http_req_query(call->req, "cursor");
	if (s && case_cursor_decode(s, &f->after_us, &f->after_id) < 0)
		return api_bad_param(call, "cursor",
		                     "is not a cursor this server gave out");
	return 0;
}

static void api_case_list(struct api_call *call)
{
	struct db_case_filter f;
	struct ktd_error err;
	struct ktd_buf body;
	char *items_text = NULL, cursor[CASE_CURSOR_SIZE];
	int64_t last_us, last_id;

	if (list_filter(call, &f) < 0 || list_paging(call, &f) < 0)
		return;
	if (db_case_list_json(call->pg, &f, may_see_cpr(&call->who),
	                      &items_text, &last_us, &last_id, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	/* The page is JSON already (jsonb's text of an array): it goes out
	 * as it came, without a parse and a dump of every case on it, which
	 * cost kontaktd ~16 us a case (tools/bench api). A cursor is
	 * base64url, so it needs no escaping in a JSON string. */
	if (last_id)
		case_cursor_encode(last_us, last_id, cursor);
	/* Sized to fit: the wrapper is under 32 bytes besides the cursor. */
	ktd_buf_init(&body, strlen(items_text) + 32 + CASE_CURSOR_SIZE);
	if (ktd_buf_add_str(&body, "{\"items\":") < 0 ||
	    ktd_buf_add_str(&body, items_text) < 0 ||
	    ktd_buf_printf(&body, ",\"next_cursor\":%s%s%s}",
	                   last_id ? "\"" : "", last_id ? cursor : "null",
	                   last_id ? "\"" : "") < 0)
		ktd_panic("case list: the body outgrew its computed size");
	ktd_http_resp_set_body(call->resp, 200,
	                       "application/json; charset=utf-8", body.data,
	                       body.len);
	ktd_buf_deinit(&body);
	free(items_text);
}

/* GET /api/v1/cases/counts: how many cases the list's filters give, in
 * all, per channel and per status (and the caller's own), counted over
 * the newest CASE_COUNT_CAP + 1 of them. When there are more than
 * CASE_COUNT_CAP (full), each count is of those only: "at least", more
 * true. */
static void count_set(json_t *obj, const char *key, int64_t n, bool full)
{
	json_object_set_new(
	        obj, key,
	        json_pack("{s:I, s:b}", "count",
	                  (json_int_t)(n > CASE_COUNT_CAP ? CASE_COUNT_CAP : n),
	                  "more", full));
}

static void api_case_counts(struct api_call *call)
{
	struct db_case_filter f;
	struct db_case_counts n;
	struct ktd_error err;
	json_t *body, *channels, *statuses;
	size_t i;
	bool full;

	if (list_filter(call, &f) < 0)
		return;
	if (db_case_counts(call->pg, &f,
	                   call->who.kind == AUTH_SESSION ? call->who.user_id
	                                                  : 0,
	                   CASE_COUNT_CAP, &n, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	body = json_pack("{s:i}", "cap", CASE_COUNT_CAP);
	channels = json_object();
	statuses = json_object();
	full = n.total > CASE_COUNT_CAP;
	count_set(body, "total", n.total, full);
	for (i = 0; i < DB_CASE_COUNT_CHANNELS; i++)
		count_set(channels, db_case_count_channels[i], n.channels[i],
		          full);
	for (i = 0; i < DB_CASE_COUNT_STATUSES; i++)
		count_set(statuses, db_case_count_statuses[i], n.statuses[i],
		          full);
	json_object_set_new(body, "channels", channels);
	json_object_set_new(body, "statuses", statuses);
	if (n.mine < 0)
		json_object_set_new(body, "mine", json_null());
	else
		count_set(body, "mine", n.mine, full);
	ktd_http_resp_json(call->resp, 200, body);
}

const struct api_route api_case_routes[] = {
        {"GET", "/api/v1/cases/counts", api_case_counts, 0, API_ROLES_ALL,
         TOKEN_SCOPE_READ},
        {"GET", "/api/v1/cases", api_case_list, 0, API_ROLES_ALL,
         TOKEN_SCOPE_READ},
        {"POST", "/api/v1/cases", api_case_create, API_SESSION, API_ROLES_ALL,
         0},
        {"GET", "/api/v1/cases/{id}", api_case_get, 0, API_ROLES_ALL,
         TOKEN_SCOPE_READ},
        {"PATCH", "/api/v1/cases/{id}", api_case_patch, API_SESSION,
         API_ROLES_ALL, 0},
        {"POST", "/api/v1/cases/{id}/resolve", api_case_resolve, API_SESSION,
         API_ROLES_ALL, 0},
        {"POST", "/api/v1/cases/{id}/forward", api_case_forward, API_SESSION,
         API_ROLES_ALL, 0},
        {"POST", "/api/v1/cases/{id}/notes", api_case_note, API_SESSION,
         API_ROLES_ALL, 0},
        {"POST", "/api/v1/cases/{id}/reopen", api_case_reopen, API_SESSION,
         API_ROLES_ALL, 0},
        {"POST", "/api/v1/cases/{id}/merge", api_case_merge, API_SESSION,
         API_ROLES_ALL, 0},
        {"POST", "/api/v1/cases/{id}/replies", api_case_reply, API_SESSION,
         API_ROLES_ALL, 0},
};
const size_t api_case_routes_n = KTD_N_ELEMENTS(api_case_routes);
