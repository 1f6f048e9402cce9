/* SPDX-License-Identifier: MPL-2.0 */
/* Common prelude of src/daemon. */
#ifndef KTD_DAEMON_COMMON_H
#define KTD_DAEMON_COMMON_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "lib/log.h"

#endif
