/* SPDX-License-Identifier: MPL-2.0 */
/* Certificate revocation lists for the mail channels' TLS checks
 * ([mailbox:NAME] crl_file, [smtp] crl_file): PEM CRLs read from a file
 * and the verification flags that make OpenSSL require one for every CA
 * of a server's chain (RFC 5280 section 6.3). Pure OpenSSL, no globals,
 * safe from any thread. */
#ifndef KTD_CHANNELS_CH_TLS_CRL_H
#define KTD_CHANNELS_CH_TLS_CRL_H

#include "lib/lib_common.h"
#include "lib/error.h"

#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

/* With a crl_file: a CRL must be there for the issuer of every
 * certificate of the chain (the leaf and each intermediate), and a
 * certificate one of them lists as revoked fails the check. */
#define CH_TLS_CRL_FLAGS (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL)

/* Reads the PEM CRLs of path (at least one; nothing else in the file).
 * Returns a new stack (free with ch_tls_crl_free), or NULL with err
 * (KTD_ERR_CONFIG; its message starts with path). */
STACK_OF(X509_CRL) * ch_tls_crl_read(const char *path, struct ktd_error *err);

/* Frees *crls (NULL is fine) and clears the pointer. */
void ch_tls_crl_free(STACK_OF(X509_CRL) * *crls);

/* Whether path holds PEM CRLs that OpenSSL can read, as ch_tls_crl_read
 * says. 0, or -1 with err. */
int ch_tls_crl_check(const char *path, struct ktd_error *err)
        KTD_ATTR_NODISCARD;

/* Adds the CRLs of path to store and sets CH_TLS_CRL_FLAGS on it. 0, or
 * -1 with err. */
int ch_tls_crl_add_to_store(X509_STORE *store, const char *path,
                            struct ktd_error *err) KTD_ATTR_NODISCARD;

/* A verification error (X509_V_ERR_*) in words for a log line, saying
 * what a revocation check found: "the certificate is revoked (its CA's
 * CRL lists it)", "no CRL in crl_file for a CA of the chain", ...; else
 * OpenSSL's own text. */
const char *ch_tls_crl_reason(long verify_error);

/* Whether verify_error is one of the revocation check's. */
bool ch_tls_crl_error(long verify_error);

#endif
