/* SPDX-License-Identifier: MPL-2.0 */
/* URL path normalisation for the static file server. */
#include "lib_common.h"

#include <string.h>

#include "path.h"

int ktd_path_normalize(const char *url_path, char *out, size_t outsz)
{
	const char *p = url_path;
	size_t o = 0;

	if (outsz == 0 || !url_path || url_path[0] != '/')
		return -1;
	while (*p) {
		const char *seg;
		size_t len, i;

		while (*p == '/')
			p++;
		seg = p;
		while (*p && *p != '/')
			p++;
		len = (size_t)(p - seg);
		if (len == 0)
			continue;
		if (len == 1 && seg[0] == '.')
			continue;
		/* "..", and any other dot-file: nothing in www/ is hidden on
		 * purpose, and refusing them keeps .git and the like out. */
		if (seg[0] == '.')
			return -1;
		for (i = 0; i < len; i++) {
			unsigned char c = (unsigned char)seg[i];

			if (c < 0x20 || c == 0x7f || c == '\\')
				return -1;
		}
		if (o + (o ? 1 : 0) + len + 1 > outsz)
			return -1;
		if (o)
			out[o++] = '/';
		memcpy(out + o, seg, len);
		o += len;
	}
	out[o] = '\0';
	return 0;
}

bool ktd_path_is_within(const char *root, const char *path)
{
	size_t rl = strlen(root);

	if (rl == 1 && root[0] == '/')
		return path[0] == '/';
	if (strncmp(root, path, rl) != 0)
		return false;
	return path[rl] == '\0' || path[rl] == '/';
}
