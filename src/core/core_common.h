/* SPDX-License-Identifier: MPL-2.0 */
/* Common prelude of src/core: the domain rules. The core uses src/db and
 * src/lib and never includes anything from src/http or src/api. */
#ifndef KTD_CORE_COMMON_H
#define KTD_CORE_COMMON_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "lib/log.h"

#endif
