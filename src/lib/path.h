/* SPDX-License-Identifier: MPL-2.0 */
/* Normalisation of URL paths (already percent-decoded) into safe relative
 * file paths. */
#ifndef KTD_PATH_H
#define KTD_PATH_H

#include "lib_common.h"

/* Turns an absolute URL path such as "/css/app.css" into the relative path
 * "css/app.css" in out (size outsz). Empty segments and "." are dropped.
 * Refused (-1): a path not starting with '/', any ".." segment, a NUL or
 * control byte, a backslash, a segment starting with '.' (hidden files), or
 * a result that does not fit. The root "/" gives "". */
int ktd_path_normalize(const char *url_path, char *out, size_t outsz)
        KTD_ATTR_NODISCARD;

/* True when path equals root or lies below it (both absolute, canonical). */
bool ktd_path_is_within(const char *root, const char *path);

#endif
