/* SPDX-License-Identifier: MPL-2.0 */
/* What a case is made of: GET /api/v1/cases/{id}/contacts (the timeline),
 * /contacts/{contact_id}, /forwards, and the download of an attachment,
 * GET /api/v1/cases/{id}/attachments/{attachment_id}. Every read is a
 * case read and writes its audit row; no audit row, no answer. */
#include "api/api_common.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "db/db_audit.h"
#include "db/db_case.h"
#include "db/db_contact.h"
#include "http/json.h"

/* The case of the path exists: 1, 0 (404 answered), -1 (err). */
static int case_exists(struct api_call *call, int64_t id, struct ktd_error *err)
{
	char *text = NULL;
	int r;

	if (id == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such case");
		return 0;
	}
	r = db_case_get_json(call->pg, id, false, &text, err);
	free(text);
	if (r == 0)
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such case");
	return r;
}

static int audit_read(struct api_call *call, int64_t case_id,
                      const char *detail, struct ktd_error *err)
{
	struct db_audit_actor a;

	api_actor(call, &a);
	return db_audit_add(call->pg, &a, "read", case_id, detail, err);
}

/* Answers {"items": <array text>} after the audit row. Frees text. */
static void answer_items(struct api_call *call, int64_t case_id,
                         const char *detail, char *text)
{
	struct ktd_error err;
	json_t *items = json_loads(text, 0, NULL);

	free(text);
	if (!items) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "case %" PRId64 ": unreadable JSON from the "
		              "database",
		              case_id);
		api_fail(call, &err);
		return;
	}
	if (audit_read(call, case_id, detail, &err) < 0) {
		json_decref(items);
		api_fail(call, &err);
		return;
	}
	ktd_http_resp_json(call->resp, 200, json_pack("{s:o}", "items", items));
}

static void api_case_contacts(struct api_call *call)
{
	struct ktd_error err;
	int64_t id = api_path_id(call);
	char *text = NULL;
	int r;

	r = case_exists(call, id, &err);
	if (r == 0)
		return;
	if (r < 0 || db_contact_list_json(call->pg, id, &text, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	answer_items(call, id, "{\"what\": \"contacts\"}", text);
}

static void api_case_forwards(struct api_call *call)
{
	struct ktd_error err;
	int64_t id = api_path_id(call);
	char *text = NULL;
	int r;

	r = case_exists(call, id, &err);
	if (r == 0)
		return;
	if (r < 0 || db_case_forwards_json(call->pg, id, &text, &err) < 0) {
		api_fail(call, &err);
		return;
	}
	answer_items(call, id, "{\"what\": \"forwards\"}", text);
}

static void api_case_contact(struct api_call *call)
{
	struct ktd_error err;
	int64_t id = api_path_id(call);
	int64_t contact_id = api_path_id_named(call, "contact_id");
	char *text = NULL, detail[64];
	json_t *c;
	int r = 0;

	if (id && contact_id)
		r = db_contact_get_json(call->pg, id, contact_id, &text, &err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such contact on this case");
		return;
	}
	c = json_loads(text, 0, NULL);
	free(text);
	if (!c) {
		ktd_error_set(&err, KTD_ERR_INTERNAL,
		              "contact: unreadable JSON from the database");
		goto fail;
	}
	snprintf(detail, sizeof(detail), "{\"contact_id\": %" PRId64 "}",
	         contact_id);
	if (audit_read(call, id, detail, &err) < 0) {
		json_decref(c);
		goto fail;
	}
	ktd_http_resp_json(call->resp, 200, c);
	return;
fail:
	api_fail(call, &err);
}

/* RFC 6266 / RFC 8187: an ASCII fallback with anything unsafe replaced,
 * and the UTF-8 name percent-encoded. */
static void content_disposition(const char *name, char *out, size_t outsz)
{
	static const char hex[] = "0123456789ABCDEF";
	char ascii[256], enc[256 * 3 + 1];
	size_t i, a = 0, e = 0;

	for (i = 0; name[i] && a + 1 < sizeof(ascii); i++) {
		unsigned char c = (unsigned char)name[i];

		if ((unsigned char)name[i] >= 0x80 && ((c & 0xc0) == 0x80))
			continue; /* one '_' per non-ASCII character */
		ascii[a++] = (c < 0x20 || c >= 0x7f || c == '"' || c == '\\' ||
		              c == ';' || c == '%')
		                     ? '_'
		                     : (char)c;
	}
	ascii[a] = '\0';
	for (i = 0; name[i] && e + 4 < sizeof(enc); i++) {
		unsigned char c = (unsigned char)name[i];

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || strchr("!#$&+-.^_`|~", c)) {
			enc[e++] = (char)c;
		} else {
			enc[e++] = '%';
			enc[e++] = hex[c >> 4];
			enc[e++] = hex[c & 15];
		}
	}
	enc[e] = '\0';
	snprintf(out, outsz, "attachment; filename=\"%s\"; filename*=UTF-8''%s",
	         ascii, enc);
}

static void api_case_attachment(struct api_call *call)
{
	struct db_attachment a;
	struct ktd_error err;
	int64_t id = api_path_id(call);
	int64_t att_id = api_path_id_named(call, "attachment_id");
	char detail[64], disposition[1100], etag[70];
	int r = 0;

	if (id && att_id)
		r = db_attachment_get(call->pg, id, att_id, &a, &err);
	if (r < 0)
		goto fail;
	if (r == 0) {
		ktd_http_resp_error(call->resp, 404, "not_found",
		                    "no such attachment on this case");
		return;
	}
	snprintf(detail, sizeof(detail), "{\"attachment_id\": %" PRId64 "}",
	         att_id);
	if (audit_read(call, id, detail, &err) < 0) {
		db_attachment_free(&a);
		goto fail;
	}
	/* Never rendered by the browser as a page of ours: a download, in
	 * a sandbox should it be opened anyway. */
	ktd_http_resp_set_body(call->resp, 200, a.content_type, a.data, a.size);
	content_disposition(a.filename, disposition, sizeof(disposition));
	ktd_http_resp_header(call->resp, "Content-Disposition", disposition);
	ktd_http_resp_header(call->resp, "Content-Security-Policy", "sandbox");
	snprintf(etag, sizeof(etag), "\"%s\"", a.sha256_hex);
	ktd_http_resp_header(call->resp, "ETag", etag);
	db_attachment_free(&a);
	return;
fail:
	api_fail(call, &err);
}

const struct api_route api_case_sub_routes[] = {
        {"GET", "/api/v1/cases/{id}/contacts", api_case_contacts, 0,
         API_ROLES_ALL, TOKEN_SCOPE_READ},
        {"GET", "/api/v1/cases/{id}/contacts/{contact_id}", api_case_contact, 0,
         API_ROLES_ALL, TOKEN_SCOPE_READ},
        {"GET", "/api/v1/cases/{id}/forwards", api_case_forwards, 0,
         API_ROLES_ALL, TOKEN_SCOPE_READ},
        {"GET", "/api/v1/cases/{id}/attachments/{attachment_id}",
         api_case_attachment, 0, API_ROLES_ALL, TOKEN_SCOPE_READ},
};
const size_t api_case_sub_routes_n = KTD_N_ELEMENTS(api_case_sub_routes);
