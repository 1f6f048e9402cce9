/* SPDX-License-Identifier: MPL-2.0 */
/* Allocation of small, bounded objects: these abort on out-of-memory. Sizes
 * that come from input are checked against configured limits before they
 * reach an allocator. */
#ifndef KTD_MEM_H
#define KTD_MEM_H

#include "lib_common.h"

void *ktd_malloc(size_t size);
void *ktd_calloc(size_t n, size_t size);
void *ktd_realloc(void *p, size_t size);
char *ktd_strdup(const char *s);
char *ktd_strndup(const char *s, size_t n);
/* A new string formatted like printf. */
char *ktd_strdup_printf(const char *fmt, ...) KTD_ATTR_FORMAT(1, 2);

/* Frees *p and sets it to NULL; accepts NULL and *p == NULL. */
void ktd_free(void *pp);

#endif
