/* SPDX-License-Identifier: MPL-2.0 */
/* Common prelude of src/ctl: kontaktctl, the administrator's command line. */
#ifndef KTD_CTL_COMMON_H
#define KTD_CTL_COMMON_H

#include "lib/lib_common.h"
#include "lib/error.h"
#include "lib/log.h"

#endif
