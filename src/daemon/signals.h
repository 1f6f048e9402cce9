/* SPDX-License-Identifier: MPL-2.0 */
/* Signals as events: handlers only write the signal number to a pipe; the
 * main loop reads it and does the work. */
#ifndef KTD_SIGNALS_H
#define KTD_SIGNALS_H

#include "daemon/daemon_common.h"

/* Installs handlers for SIGTERM, SIGINT, SIGQUIT and SIGHUP and ignores
 * SIGPIPE. Returns 0 or -1 with err. */
int ktd_signals_init(struct ktd_error *err) KTD_ATTR_NODISCARD;
void ktd_signals_deinit(void);

/* The pipe's read end, to poll for POLLIN. */
int ktd_signals_fd(void);

/* The next pending signal number, or 0 when none is pending. */
int ktd_signals_next(void);

#endif
