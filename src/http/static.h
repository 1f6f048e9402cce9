/* SPDX-License-Identifier: MPL-2.0 */
/* Static files from the www root: content types, ETag/Last-Modified with
 * conditional requests, and no way out of the root (no "..", no hidden
 * files, no symlink leading outside). */
#ifndef KTD_HTTP_STATIC_H
#define KTD_HTTP_STATIC_H

#include "http/http_common.h"
#include "http/request.h"

struct ktd_static;

/* Resolves root (which must be a directory). Returns a new object (caller
 * destroys) or NULL with err. */
struct ktd_static *ktd_static_create(const char *root, struct ktd_error *err);
void ktd_static_destroy(struct ktd_static **st);

/* A ktd_route_fn: ctx is the struct ktd_static. Serves GET and HEAD. */
void ktd_static_serve(struct ktd_http_req *req, struct ktd_http_resp *resp,
                      void *ctx);

/* The content type for a file name, by extension. */
const char *ktd_static_content_type(const char *name);

#endif
