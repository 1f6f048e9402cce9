/* SPDX-License-Identifier: MPL-2.0 */
/* Common prelude of src/api: one file per resource, each a thin translation
 * between HTTP and the core. */
#ifndef KTD_API_COMMON_H
#define KTD_API_COMMON_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "lib/log.h"
#include "http/request.h"
#include "http/router.h"

#endif
