/* SPDX-License-Identifier: MPL-2.0 */
/* Login, name and role rules; Argon2id password hashing via libsodium. */
#include "core/core_common.h"

#include <sodium.h>
#include <string.h>

#include "lib/str.h"
#include "core/user.h"

_Static_assert(USER_HASH_SIZE == crypto_pwhash_STRBYTES,
               "USER_HASH_SIZE must be crypto_pwhash_STRBYTES");

static const char *const role_names[] = {
        [USER_ROLE_AGENT] = "agent",
        [USER_ROLE_SUPERVISOR] = "supervisor",
        [USER_ROLE_ADMIN] = "admin",
};

int user_login_check(const char *login, struct ktd_error *err)
{
	size_t len = strlen(login), i;

	if (len == 0 || len > USER_LOGIN_MAX)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "must be 1 to %d characters long",
		                     USER_LOGIN_MAX);
	for (i = 0; i < len; i++) {
		char c = login[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return ktd_error_set(err, KTD_ERR_INVALID,
			                     "may hold only lower-case a-z, "
			                     "digits, '.', '_' and '-'");
	}
	return 0;
}

int user_name_check(const char *name, struct ktd_error *err)
{
	size_t len = strlen(name);

	if (!ktd_utf8_valid(name, len))
		return ktd_error_set(err, KTD_ERR_INVALID, "not valid UTF-8");
	if (ktd_utf8_has_control(name))
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "control characters are not allowed");
	if (ktd_utf8_chars(name) > USER_NAME_MAX)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "longer than %d characters",
		                     USER_NAME_MAX);
	if (len > 0 && (name[0] == ' ' || name[len - 1] == ' '))
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "leading or trailing space");
	return 0;
}

int user_role_parse(const char *s, enum user_role *role_r)
{
	size_t i;

	for (i = 0; i < KTD_N_ELEMENTS(role_names); i++) {
		if (strcmp(s, role_names[i]) == 0) {
			*role_r = (enum user_role)i;
			return 0;
		}
	}
	return -1;
}

const char *user_role_name(enum user_role role)
{
	if ((size_t)role >= KTD_N_ELEMENTS(role_names))
		return "unknown";
	return role_names[role];
}

int user_password_check(const char *pw, size_t len, struct ktd_error *err)
{
	size_t chars = 0, i;

	if (len > USER_PASSWORD_MAX)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "the password is longer than %d bytes",
		                     USER_PASSWORD_MAX);
	if (!ktd_utf8_valid(pw, len))
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "the password is not valid UTF-8");
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)pw[i];

		if (c < 0x20 || c == 0x7f)
			return ktd_error_set(err, KTD_ERR_INVALID,
			                     "the password holds a control "
			                     "character");
		if ((c & 0xc0) != 0x80)
			chars++;
	}
	if (chars < USER_PASSWORD_MIN)
		return ktd_error_set(err, KTD_ERR_INVALID,
		                     "the password is shorter than %d "
		                     "characters",
		                     USER_PASSWORD_MIN);
	return 0;
}

/* Process-wide, set once before threads start (see user.h). */
static unsigned long long hash_passes = crypto_pwhash_OPSLIMIT_INTERACTIVE;
static size_t hash_memory = crypto_pwhash_MEMLIMIT_INTERACTIVE;

void user_password_cost_set(uint32_t passes, uint64_t memory_bytes)
{
	ktd_assert(passes >= USER_HASH_PASSES_MIN &&
	           passes <= USER_HASH_PASSES_MAX);
	ktd_assert(memory_bytes >= USER_HASH_MEMORY_MIN &&
	           memory_bytes <= USER_HASH_MEMORY_MAX &&
	           memory_bytes <= SIZE_MAX);
	hash_passes = passes;
	hash_memory = (size_t)memory_bytes;
}

int user_password_hash(const char *pw, size_t len, char hash_r[USER_HASH_SIZE],
                       struct ktd_error *err)
{
	if (user_password_check(pw, len, err) < 0)
		return -1;
	if (crypto_pwhash_str(hash_r, pw, len, hash_passes, hash_memory) != 0)
		return ktd_error_set(err, KTD_ERR_INTERNAL,
		                     "out of memory hashing the password");
	return 0;
}

bool user_password_verify(const char *hash, const char *pw, size_t len)
{
	return crypto_pwhash_str_verify(hash, pw, len) == 0;
}

bool user_password_needs_rehash(const char *hash)
{
	return crypto_pwhash_str_needs_rehash(hash, hash_passes, hash_memory) !=
	       0;
}

void user_password_generate(char *out, size_t outsz)
{
	unsigned char bytes[16];

	ktd_assert(outsz >= USER_PASSWORD_GENERATED_SIZE);
	randombytes_buf(bytes, sizeof(bytes));
	sodium_bin2base64(out, outsz, bytes, sizeof(bytes),
	                  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	sodium_memzero(bytes, sizeof(bytes));
}
