/* SPDX-License-Identifier: MPL-2.0 */
/* Users: the rules for logins, names and roles, and passwords hashed with
 * Argon2id (libsodium crypto_pwhash_str). Passwords are never logged and
 * are wiped from memory by whoever holds them (sodium_memzero). libsodium
 * must have been started (sodium_init) before any function here. */
#ifndef KTD_CORE_USER_H
#define KTD_CORE_USER_H

#include "core/core_common.h"

enum user_role {
	USER_ROLE_AGENT,      /* works the inbox: cases, contacts, forwards */
	USER_ROLE_SUPERVISOR, /* also statistics and the audit log */
	USER_ROLE_ADMIN,      /* also users, tokens and the directory */
};

#define USER_LOGIN_MAX 64      /* bytes: [a-z0-9._-] */
#define USER_NAME_MAX 200      /* characters */
#define USER_PASSWORD_MIN 12   /* characters */
#define USER_PASSWORD_MAX 1024 /* bytes */
#define USER_HASH_SIZE 128     /* crypto_pwhash_STRBYTES, with the NUL */

/* A login: 1 to 64 of a-z, 0-9, '.', '_' and '-'. Returns 0, or -1 with
 * KTD_ERR_INVALID and a message without the field name. */
int user_login_check(const char *login, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* A display name: UTF-8, at most USER_NAME_MAX characters, no control
 * characters, no leading or trailing space; may be empty. */
int user_name_check(const char *name, struct ktd_error *err) KTD_ATTR_NODISCARD;

/* "agent", "supervisor" or "admin". Returns 0 or -1. */
int user_role_parse(const char *s, enum user_role *role_r) KTD_ATTR_NODISCARD;
const char *user_role_name(enum user_role role);

/* A new password (len bytes, not NUL-terminated necessarily): valid UTF-8
 * without control characters, at least USER_PASSWORD_MIN characters and at
 * most USER_PASSWORD_MAX bytes. The message never quotes the password. */
int user_password_check(const char *pw, size_t len, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* The Argon2id cost of new hashes: passes over memory_bytes of memory.
 * The default is libsodium's INTERACTIVE limits (2 passes, 64 MiB); the
 * limits below are libsodium's minimum for memory and OWASP's advice
 * (19 MiB, 2 passes) for what is called weak. Set once at start-up, before
 * any thread hashes (config [auth] password_hash_memory and
 * password_hash_passes). */
#define USER_HASH_MEMORY_MIN (1024u * 1024u)
#define USER_HASH_MEMORY_MAX (4096ULL * 1024 * 1024)
#define USER_HASH_MEMORY_WEAK (19u * 1024u * 1024u)
#define USER_HASH_PASSES_MIN 1
#define USER_HASH_PASSES_MAX 64
void user_password_cost_set(uint32_t passes, uint64_t memory_bytes);

/* Checks pw like user_password_check, then hashes it with Argon2id at the
 * cost of user_password_cost_set into hash_r ("$argon2id$..."). Returns 0
 * or -1 (KTD_ERR_INVALID for a bad password, KTD_ERR_INTERNAL when memory
 * for the hash cannot be had). */
int user_password_hash(const char *pw, size_t len, char hash_r[USER_HASH_SIZE],
                       struct ktd_error *err) KTD_ATTR_NODISCARD;

/* True when pw matches hash (from user_password_hash). Constant-time in
 * the password, as libsodium's verification is. */
bool user_password_verify(const char *hash, const char *pw, size_t len);

/* True when hash was made at another cost than the current one (or is not
 * an Argon2id hash this libsodium knows): the caller that has just verified
 * the password hashes it anew. */
bool user_password_needs_rehash(const char *hash);

/* A random password of 22 characters (16 random bytes, base64url) into out,
 * which must hold at least USER_PASSWORD_GENERATED_SIZE bytes. */
#define USER_PASSWORD_GENERATED_SIZE 23
void user_password_generate(char *out, size_t outsz);

#endif
