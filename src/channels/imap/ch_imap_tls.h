/* SPDX-License-Identifier: MPL-2.0 */
/* Who the IMAP server is: the check of its TLS certificate before the
 * mailbox's password goes out in LOGIN.
 *
 * Debian's libetpan is built with GnuTLS and does not verify the server's
 * certificate at all: it completes any handshake. So after the handshake
 * (imaps or STARTTLS) the certificate chain the server sent is taken from
 * libetpan (mailstream_get_certificate_chain) and verified here with
 * OpenSSL, against the CAs of [mailbox:NAME] ca_file or the system's
 * (/etc/ssl/certs), with the host name or address of [mailbox:NAME] host
 * (RFC 6125; RFC 8314 section 4 for imaps), and with crl_file against
 * the CRLs of that file, read at each check: every CA of the chain must
 * have one, and a revoked certificate fails (channels/ch_tls_crl.h).
 * With tls_fingerprint set, the
 * pin replaces that: the server's certificate must be exactly that one,
 * whoever issued it. The handshake itself proves that the server holds the
 * key of the certificate it sent (GnuTLS checks the handshake's
 * signature), so checking the certificate afterwards is enough. */
#ifndef KTD_CHANNELS_CH_IMAP_TLS_H
#define KTD_CHANNELS_CH_IMAP_TLS_H

#include "lib/lib_common.h"
#include "lib/error.h"

#include <libetpan/libetpan.h>

struct ktd_mailbox;
struct ch_imap_tls;

/* How the server of a connection was accepted, for the log. */
enum ch_imap_tls_trust {
	CH_IMAP_TLS_VERIFIED, /* chain to a trusted CA, name matches */
	CH_IMAP_TLS_PINNED,   /* the certificate of tls_fingerprint */
};

/* The trust for mailbox mb (borrowed for the object's life): its ca_file
 * or, without one, the system's CAs; a pin needs neither. NULL with err
 * (KTD_ERR_CONFIG for a ca_file without a usable certificate, its message
 * naming the file) on failure. Caller destroys. */
struct ch_imap_tls *ch_imap_tls_create(const struct ktd_mailbox *mb,
                                       struct ktd_error *err);

/* Frees *t (NULL is fine) and clears the pointer. */
void ch_imap_tls_destroy(struct ch_imap_tls **t);

/* Whether path (a ca_file) can be read and holds only PEM certificates,
 * at least one. 0, or -1 with err (KTD_ERR_CONFIG). */
KTD_ATTR_NODISCARD int ch_imap_tls_ca_file_check(const char *path,
                                                 struct ktd_error *err);

/* Whether host is an IPv4 or IPv6 address rather than a DNS name. */
bool ch_imap_tls_host_is_ip(const char *host);

/* Checks the server of stream, a TLS connection whose handshake is done
 * and on which nothing was sent yet. 0 with *trust_r, or -1 with err: its
 * message is the reason (safe to log: certificate facts only). Borrows
 * stream. Call from one thread at a time per t. */
KTD_ATTR_NODISCARD int ch_imap_tls_verify(const struct ch_imap_tls *t,
                                          mailstream *stream,
                                          enum ch_imap_tls_trust *trust_r,
                                          struct ktd_error *err);

#endif
