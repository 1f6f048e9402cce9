/* SPDX-License-Identifier: MPL-2.0 */
/* struct ktd_error: the error a fallible function hands back to its caller,
 * a code the HTTP layer maps to a status plus a bounded message. */
#ifndef KTD_ERROR_H
#define KTD_ERROR_H

#include "lib_common.h"

enum ktd_err_code {
	KTD_ERR_NONE = 0,
	KTD_ERR_INTERNAL,        /* a bug or an unexpected failure: 500 */
	KTD_ERR_INVALID,         /* malformed input: 400 */
	KTD_ERR_UNPROCESSABLE,   /* well-formed but unacceptable input: 422 */
	KTD_ERR_NOT_FOUND,       /* 404 */
	KTD_ERR_CONFLICT,        /* conflicting state: 409 */
	KTD_ERR_TOO_LARGE,       /* 413 */
	KTD_ERR_UNSUPPORTED,     /* unsupported media type: 415 */
	KTD_ERR_UNAUTHENTICATED, /* 401 */
	KTD_ERR_FORBIDDEN,       /* 403 */
	KTD_ERR_RATE_LIMITED,    /* 429 */
	KTD_ERR_UNAVAILABLE, /* a dependency (PostgreSQL) is unreachable: 503 */
	KTD_ERR_CONFIG,      /* a configuration error (startup) */
	KTD_ERR_IO,          /* a file or socket error */
};

#define KTD_ERROR_MSG_MAX 512

struct ktd_error {
	enum ktd_err_code code;
	/* SQLSTATE of a database error, "" otherwise. */
	char sqlstate[6];
	char msg[KTD_ERROR_MSG_MAX];
};

/* Fills err (which may be NULL) with code and a formatted message; a message
 * longer than KTD_ERROR_MSG_MAX is cut. Always returns -1, so that callers can
 * write `return ktd_error_set(err, ...);`. */
int ktd_error_set(struct ktd_error *err, enum ktd_err_code code,
                  const char *fmt, ...) KTD_ATTR_FORMAT(3, 4);

/* Prefixes the existing message with a formatted context ("file.sql: ..."). */
void ktd_error_prefix(struct ktd_error *err, const char *fmt, ...)
        KTD_ATTR_FORMAT(2, 3);

void ktd_error_clear(struct ktd_error *err);

/* Stable lower-case name of a code, used as the "code" of API error bodies. */
const char *ktd_error_code_name(enum ktd_err_code code);

#endif
