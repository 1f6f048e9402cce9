/* SPDX-License-Identifier: MPL-2.0 */
/* struct ktd_buf: a growable byte buffer with a hard maximum length, for
 * text and bodies built from input. Always NUL-terminated. */
#ifndef KTD_BUF_H
#define KTD_BUF_H

#include "lib_common.h"

struct ktd_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t max;
};

/* Starts an empty buffer that will refuse to grow past max bytes. */
void ktd_buf_init(struct ktd_buf *b, size_t max);
/* Frees the contents; the buffer may be initialised again. */
void ktd_buf_deinit(struct ktd_buf *b);
void ktd_buf_reset(struct ktd_buf *b);

/* Append; return 0, or -1 (nothing appended) when max would be exceeded. */
int ktd_buf_add(struct ktd_buf *b, const void *data, size_t len)
        KTD_ATTR_NODISCARD;
int ktd_buf_add_str(struct ktd_buf *b, const char *s) KTD_ATTR_NODISCARD;
int ktd_buf_printf(struct ktd_buf *b, const char *fmt, ...)
        KTD_ATTR_FORMAT(2, 3) KTD_ATTR_NODISCARD;

/* Hands the contents (NUL-terminated) to the caller, who frees them; the
 * buffer is left empty. */
char *ktd_buf_steal(struct ktd_buf *b, size_t *len_r);

#endif
