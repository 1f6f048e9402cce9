/* SPDX-License-Identifier: MPL-2.0 */
/* The MIME parser on a corpus of tricky messages (tests/data/mail). */
#include "lib/lib_common.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "lib/mem.h"
#include "lib/str.h"
#include "channels/mime/ch_mime.h"
#include "channels/mime/ch_mime_int.h"

static void test_placeholder(void **state)
{
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_placeholder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
