/* SPDX-License-Identifier: MPL-2.0 */
/* The error record that fallible functions fill for their callers. */
#include "lib_common.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"
#include "str.h"

int ktd_error_set(struct ktd_error *err, enum ktd_err_code code,
                  const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!err)
		return -1;
	err->code = code;
	err->sqlstate[0] = '\0';
	va_start(ap, fmt);
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	/* A cut message must stay valid UTF-8: it may become the message
	 * of a JSON error body. */
	if (n >= (int)sizeof(err->msg))
		err->msg[ktd_utf8_cut(err->msg, sizeof(err->msg) - 1)] = '\0';
	return -1;
}

void ktd_error_prefix(struct ktd_error *err, const char *fmt, ...)
{
	char prefix[KTD_ERROR_MSG_MAX];
	char old[KTD_ERROR_MSG_MAX];
	va_list ap;
	int n;

	if (!err)
		return;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	/* A message that no longer fits is cut (on a UTF-8 character
	 * boundary); that is acceptable. */
	n = snprintf(err->msg, sizeof(err->msg), "%s: %s", prefix, old);
	if (n < 0)
		err->msg[0] = '\0';
	else if (n >= (int)sizeof(err->msg))
		err->msg[ktd_utf8_cut(err->msg, sizeof(err->msg) - 1)] = '\0';
}

void ktd_error_clear(struct ktd_error *err)
{
	if (!err)
		return;
	err->code = KTD_ERR_NONE;
	err->sqlstate[0] = '\0';
	err->msg[0] = '\0';
}

const char *ktd_error_code_name(enum ktd_err_code code)
{
	switch (code) {
	case KTD_ERR_NONE:
		return "ok";
	case KTD_ERR_INTERNAL:
		return "internal_error";
	case KTD_ERR_INVALID:
		return "bad_request";
	case KTD_ERR_UNPROCESSABLE:
		return "unprocessable";
	case KTD_ERR_NOT_FOUND:
		return "not_found";
	case KTD_ERR_CONFLICT:
		return "conflict";
	case KTD_ERR_TOO_LARGE:
		return "payload_too_large";
	case KTD_ERR_UNSUPPORTED:
		return "unsupported_media_type";
	case KTD_ERR_UNAUTHENTICATED:
		return "unauthenticated";
	case KTD_ERR_FORBIDDEN:
		return "forbidden";
	case KTD_ERR_RATE_LIMITED:
		return "rate_limited";
	case KTD_ERR_UNAVAILABLE:
		return "unavailable";
	case KTD_ERR_CONFIG:
		return "config_error";
	case KTD_ERR_IO:
		return "io_error";
	}
	return "internal_error";
}
