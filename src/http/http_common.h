/* SPDX-License-Identifier: MPL-2.0 */
/* Common prelude of src/http: the generic HTTP layer, which knows nothing of
 * the domain. */
#ifndef KTD_HTTP_COMMON_H
#define KTD_HTTP_COMMON_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "lib/log.h"

#endif
