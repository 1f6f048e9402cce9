/* SPDX-License-Identifier: MPL-2.0 */
/* Common prelude of src/db. */
#ifndef KTD_DB_COMMON_H
#define KTD_DB_COMMON_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "lib/log.h"

#include <libpq-fe.h>

#endif
