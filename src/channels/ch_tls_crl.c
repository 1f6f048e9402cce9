/* SPDX-License-Identifier: MPL-2.0 */
/* PEM certificate revocation lists for the mail channels' TLS checks
 * (RFC 5280 section 5). */
#include "lib/lib_common.h"

#include <errno.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pem.h>

#include "channels/ch_tls_crl.h"

STACK_OF(X509_CRL) * ch_tls_crl_read(const char *path, struct ktd_error *err)
{
	STACK_OF(X509_CRL) *crls = NULL;
	X509_CRL *crl = NULL;
	BIO *bio = NULL;
	unsigned long e;
	int n = 0;

	ERR_clear_error();
	bio = BIO_new_file(path, "r");
	if (!bio) {
		ktd_error_set(err, KTD_ERR_CONFIG, "%s: cannot open: %s", path,
		              strerror(errno));
		goto fail;
	}
	crls = sk_X509_CRL_new_null();
	if (!crls) {
		ktd_error_set(err, KTD_ERR_INTERNAL, "out of memory");
		goto fail;
	}
	for (;;) {
		crl = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL);
		if (!crl)
			break;
		if (!sk_X509_CRL_push(crls, crl)) {
			X509_CRL_free(crl);
			ktd_error_set(err, KTD_ERR_INTERNAL, "out of memory");
			goto fail;
		}
		n++;
	}
	/* The loop ends at the end of the file (no more "-----BEGIN") or
	 * at something that is not a CRL. */
	e = ERR_peek_last_error();
	if (e && !(ERR_GET_LIB(e) == ERR_LIB_PEM &&
	           ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		ktd_error_set(err, KTD_ERR_CONFIG,
		              "%s: not a PEM CRL after %d good ones (%s)", path,
		              n, ERR_reason_error_string(e));
		goto fail;
	}
	if (n == 0) {
		ktd_error_set(err, KTD_ERR_CONFIG,
		              "%s: no PEM CRL (X509 CRL) in it", path);
		goto fail;
	}
	BIO_free(bio);
	ERR_clear_error();
	return crls;
fail:
	ch_tls_crl_free(&crls);
	BIO_free(bio);
	ERR_clear_error();
	return NULL;
}

void ch_tls_crl_free(STACK_OF(X509_CRL) * *crls)
{
	if (!*crls)
		return;
	sk_X509_CRL_pop_free(*crls, X509_CRL_free);
	*crls = NULL;
}

int ch_tls_crl_check(const char *path, struct ktd_error *err)
{
	STACK_OF(X509_CRL) *crls = ch_tls_crl_read(path, err);

	if (!crls)
		return -1;
	ch_tls_crl_free(&crls);
	return 0;
}

int ch_tls_crl_add_to_store(X509_STORE *store, const char *path,
                            struct ktd_error *err)
{
	STACK_OF(X509_CRL) *crls = ch_tls_crl_read(path, err);
	int i, ret = -1;

	if (!crls)
		return -1;
	for (i = 0; i < sk_X509_CRL_num(crls); i++)
		if (X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i)) !=
		    1) {
			ktd_error_set(err, KTD_ERR_CONFIG,
			              "%s: CRL %d cannot be used", path, i + 1);
			goto out;
		}
	if (X509_STORE_set_flags(store, CH_TLS_CRL_FLAGS) != 1) {
		ktd_error_set(err, KTD_ERR_INTERNAL,
		              "cannot turn the CRL check on");
		goto out;
	}
	ret = 0;
out:
	ch_tls_crl_free(&crls);
	ERR_clear_error();
	return ret;
}

bool ch_tls_crl_error(long verify_error)
{
	switch (verify_error) {
	case X509_V_ERR_CERT_REVOKED:
	case X509_V_ERR_UNABLE_TO_GET_CRL:
	case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
	case X509_V_ERR_CRL_HAS_EXPIRED:
	case X509_V_ERR_CRL_NOT_YET_VALID:
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
	case X509_V_ERR_DIFFERENT_CRL_SCOPE:
		return true;
	default:
		return false;
	}
}

const char *ch_tls_crl_reason(long verify_error)
{
	switch (verify_error) {
	case X509_V_ERR_CERT_REVOKED:
		return "certificate revoked: a CRL of crl_file lists it";
	case X509_V_ERR_UNABLE_TO_GET_CRL:
		return "no CRL in crl_file for a CA of the chain (unable to "
		       "get certificate CRL)";
	case X509_V_ERR_CRL_HAS_EXPIRED:
		return "a CRL of crl_file has expired (past its next update)";
	case X509_V_ERR_CRL_NOT_YET_VALID:
		return "a CRL of crl_file is not yet valid";
	case X509_V_ERR_CRL_SIGNATURE_FAILURE:
	case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
		return "a CRL of crl_file has a bad signature";
	default:
		return X509_verify_cert_error_string(verify_error);
	}
}
