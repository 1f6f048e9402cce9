/* SPDX-License-Identifier: MPL-2.0 */
/* The IMAP server's certificate, verified with OpenSSL after libetpan's
 * (unverified) TLS handshake; RFC 5280 path validation, RFC 6125 names. */
#include "lib/lib_common.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "lib/mem.h"
#include "daemon/settings.h"
#include "channels/ch_tls_crl.h"
#include "channels/imap/ch_imap_tls.h"

struct ch_imap_tls {
	const struct ktd_mailbox *mb;
	/* The CAs trusted for this mailbox; NULL with a pin. */
	X509_STORE *store;
};

/* Reads the PEM certificates of path, each added to store when store is
 * not NULL. 0, or -1 with err (KTD_ERR_CONFIG). */
static int ca_file_read(const char *path, X509_STORE *store,
                        struct ktd_error *err)
{
	BIO *bio = NULL;
	X509 *x = NULL;
	unsigned long e;
	int n = 0, ret = -1;

	ERR_clear_error();
	bio = BIO_new_file(path, "r");
	if (!bio) {
		ktd_error_set(err, KTD_ERR_CONFIG, "%s: cannot open: %s", path,
		              strerror(errno));
		goto out;
	}
	for (;;) {
		x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (!x)
			break;
		if (store && X509_STORE_add_cert(store, x) != 1) {
			ktd_error_set(err, KTD_ERR_CONFIG,
			              "%s: certificate %d cannot be used as a "
			              "CA",
			              path, n + 1);
			goto out;
		}
		X509_free(x);
		x = NULL;
		n++;
	}
	/* The loop ends at the end of the file (no more "-----BEGIN") or
	 * at something that is not a certificate. */
	e = ERR_peek_last_error();
	if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
	           ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		ktd_error_set(err, KTD_ERR_CONFIG,
		              "%s: not a PEM certificate after %d good ones "
		              "(%s)",
		              path, n, ERR_reason_error_string(e));
		goto out;
	}
	if (n == 0) {
		ktd_error_set(err, KTD_ERR_CONFIG,
		              "%s: no PEM certificate in it", path);
		goto out;
	}
	ret = 0;
out:
	X509_free(x);
	BIO_free(bio);
	ERR_clear_error();
	return ret;
}

int ch_imap_tls_ca_file_check(const char *path, struct ktd_error *err)
{
	return ca_file_read(path, NULL, err);
}

struct ch_imap_tls *ch_imap_tls_create(const struct ktd_mailbox *mb,
                                       struct ktd_error *err)
{
	struct ch_imap_tls *t = ktd_calloc(1, sizeof(*t));

	t->mb = mb;
	if (mb->tls_fingerprint[0])
		return t;
	t->store = X509_STORE_new();
	if (!t->store) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot make a certificate store");
		goto fail;
	}
	if (mb->ca_file[0]) {
		if (ca_file_read(mb->ca_file, t->store, err) < 0)
			goto fail;
	} else if (X509_STORE_set_default_paths(t->store) != 1) {
		ERR_clear_error();
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot load the system's CAs");
		goto fail;
	}
	return t;
fail:
	ch_imap_tls_destroy(&t);
	return NULL;
}

void ch_imap_tls_destroy(struct ch_imap_tls **tp)
{
	struct ch_imap_tls *t = *tp;

	if (!t)
		return;
	X509_STORE_free(t->store);
	free(t);
	*tp = NULL;
}

/* The pin: the SHA-256 of the server's certificate (DER). */
static int verify_pin(const struct ch_imap_tls *t, const unsigned char *der,
                      size_t len, struct ktd_error *err)
{
	unsigned char hash[crypto_hash_sha256_BYTES];
	char hex[2 * crypto_hash_sha256_BYTES + 1];

	crypto_hash_sha256(hash, der, (unsigned long long)len);
	sodium_bin2hex(hex, sizeof(hex), hash, sizeof(hash));
	if (sodium_memcmp(hex, t->mb->tls_fingerprint, sizeof(hex) - 1) != 0)
		return ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		                     "the server's certificate (SHA-256 %s) is "
		                     "not the one of tls_fingerprint",
		                     hex);
	return 0;
}

bool ch_imap_tls_host_is_ip(const char *host)
{
	unsigned char addr[16];

	return inet_pton(AF_INET, host, addr) == 1 ||
	       inet_pton(AF_INET6, host, addr) == 1;
}

static X509 *der_to_x509(const MMAPString *s)
{
	const unsigned char *p = (const unsigned char *)s->str;

	if (!s->str || s->len == 0 || s->len > 1024 * 1024)
		return NULL;
	return d2i_X509(NULL, &p, (long)s->len);
}

/* The chain: the leaf (first) to a CA of the store, the others sent by
 * the server as candidates for the intermediates; the leaf for a TLS
 * server, with host among its names (subjectAltName; an IP address only
 * as an iPAddress entry). */
static int verify_chain(const struct ch_imap_tls *t, carray *chain,
                        struct ktd_error *err)
{
	const char *host = t->mb->host;
	STACK_OF(X509_CRL) *crls = NULL;
	STACK_OF(X509) *untrusted = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509_VERIFY_PARAM *param;
	X509 *leaf = NULL, *x;
	unsigned i;
	int ret = -1, r, e;

	leaf = der_to_x509(carray_get(chain, 0));
	untrusted = sk_X509_new_null();
	ctx = X509_STORE_CTX_new();
	if (!leaf || !untrusted || !ctx) {
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              "the server's certificate cannot be read");
		goto out;
	}
	for (i = 1; i < carray_count(chain); i++) {
		x = der_to_x509(carray_get(chain, i));
		if (!x || !sk_X509_push(untrusted, x)) {
			X509_free(x);
			ktd_error_set(err, KTD_ERR_UNAVAILABLE,
			              "certificate %u of the server's chain "
			              "cannot be read",
			              i + 1);
			goto out;
		}
	}
	if (X509_STORE_CTX_init(ctx, t->store, leaf, untrusted) != 1 ||
	    X509_STORE_CTX_set_default(ctx, "ssl_server") != 1) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot set up the certificate check");
		goto out;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_hostflags(param,
	                                X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (t->mb->crl_file[0]) {
		crls = ch_tls_crl_read(t->mb->crl_file, err);
		if (!crls) {
			ktd_error_prefix(err, "crl_file");
			err->code = KTD_ERR_UNAVAILABLE;
			goto out;
		}
		X509_STORE_CTX_set0_crls(ctx, crls);
		X509_VERIFY_PARAM_set_flags(param, CH_TLS_CRL_FLAGS);
	}
	if (ch_imap_tls_host_is_ip(host))
		r = X509_VERIFY_PARAM_set1_ip_asc(param, host);
	else
		r = X509_VERIFY_PARAM_set1_host(param, host, 0);
	if (r != 1) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot check the certificate for host %s", host);
		goto out;
	}
	if (X509_verify_cert(ctx) != 1) {
		e = X509_STORE_CTX_get_error(ctx);
		if (ch_tls_crl_error(e))
			ktd_error_set(err, KTD_ERR_UNAVAILABLE,
			              "the server's certificate chain failed "
			              "the revocation check: %s (at depth %d)",
			              ch_tls_crl_reason(e),
			              X509_STORE_CTX_get_error_depth(ctx));
		else if (e == X509_V_ERR_HOSTNAME_MISMATCH ||
		         e == X509_V_ERR_IP_ADDRESS_MISMATCH)
			ktd_error_set(err, KTD_ERR_UNAVAILABLE,
			              "the server's certificate is not for "
			              "host %s (%s)",
			              host, X509_verify_cert_error_string(e));
		else
			ktd_error_set(err, KTD_ERR_UNAVAILABLE,
			              "the server's certificate chain is not "
			              "trusted: %s (at depth %d)",
			              X509_verify_cert_error_string(e),
			              X509_STORE_CTX_get_error_depth(ctx));
		goto out;
	}
	ret = 0;
out:
	X509_STORE_CTX_free(ctx);
	/* set0: the context borrowed them. */
	ch_tls_crl_free(&crls);
	sk_X509_pop_free(untrusted, X509_free);
	X509_free(leaf);
	ERR_clear_error();
	return ret;
}

static void chain_free(carray *chain)
{
	unsigned i;

	if (!chain)
		return;
	for (i = 0; i < carray_count(chain); i++)
		mmap_string_free(carray_get(chain, i));
	carray_free(chain);
}

int ch_imap_tls_verify(const struct ch_imap_tls *t, mailstream *stream,
                       enum ch_imap_tls_trust *trust_r, struct ktd_error *err)
{
	unsigned char *der = NULL;
	carray *chain = NULL;
	ssize_t n;
	int ret = -1;

	/* The leaf first, through the call that checks that the server
	 * sent any certificate: libetpan's chain getter (GnuTLS build)
	 * returns an uninitialised pointer when it did not. */
	n = mailstream_ssl_get_certificate(stream, &der);
	if (n <= 0 || !der) {
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              "the server showed no certificate");
		goto out;
	}
	if (t->mb->tls_fingerprint[0]) {
		if (verify_pin(t, der, (size_t)n, err) < 0)
			goto out;
		*trust_r = CH_IMAP_TLS_PINNED;
		ret = 0;
		goto out;
	}
	chain = mailstream_get_certificate_chain(stream);
	if (!chain || carray_count(chain) == 0) {
		ktd_error_set(err, KTD_ERR_UNAVAILABLE,
		              "the server's certificate chain is not "
		              "available");
		goto out;
	}
	if (verify_chain(t, chain, err) < 0)
		goto out;
	*trust_r = CH_IMAP_TLS_VERIFIED;
	ret = 0;
out:
	chain_free(chain);
	free(der);
	return ret;
}
