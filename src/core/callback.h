/* SPDX-License-Identifier: MPL-2.0 */
/* Callbacks (ring-op): recording an attempt, in one transaction with the
 * callback row locked, an audit row on its case and a NOTIFY. */
#ifndef KTD_CORE_CALLBACK_H
#define KTD_CORE_CALLBACK_H

#include "core/core_common.h"
#include "core/case.h"

#include <libpq-fe.h>

struct callback_config {
	unsigned max_attempts;  /* [callbacks] max_attempts */
	uint64_t retry_after_s; /* [callbacks] retry_after */
};

/* Records an attempt (result "reached" or "not_reached", note may be
 * NULL) on callback id if its version is version (0: any). Returns 0 with
 * the callback's JSON text in *json_r, or -1: KTD_ERR_NOT_FOUND;
 * KTD_ERR_CONFLICT with the current callback's JSON text in *json_r when
 * it is not open or at another version. */
int callback_attempt(PGconn *pg, int64_t id, int64_t version,
                     const char *result, const char *note,
                     const struct case_actor *actor,
                     const struct callback_config *cfg, char **json_r,
                     struct ktd_error *err) KTD_ATTR_NODISCARD;

#endif
