/* SPDX-License-Identifier: MPL-2.0 */
/* Common prelude of src/lib: configuration, standard types, attribute
 * macros. src/lib depends on nothing else in src/ and on no library but libc.
 */
#ifndef KTD_LIB_COMMON_H
#define KTD_LIB_COMMON_H

#include "config.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KTD_ATTR_FORMAT(fmt, args) __attribute__((format(printf, fmt, args)))
#define KTD_ATTR_NODISCARD __attribute__((warn_unused_result))
#define KTD_ATTR_NORETURN __attribute__((noreturn))
#define KTD_ATTR_UNUSED __attribute__((unused))

#define KTD_N_ELEMENTS(a) (sizeof(a) / sizeof((a)[0]))

/* Internal functions are static in the daemon and visible to unit tests. */
#ifdef KTD_UNITTEST
#define KTD_STATIC
#else
#define KTD_STATIC static
#endif

#endif
