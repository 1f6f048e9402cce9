/* SPDX-License-Identifier: MPL-2.0 */
/* Self-pipe signal delivery. */
#include "daemon/daemon_common.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "daemon/signals.h"

static int sig_pipe[2] = {-1, -1};

static void on_signal(int signo)
{
	int saved = errno;
	unsigned char b = (unsigned char)signo;

	/* If the pipe is full, enough signals are already pending. */
	if (write(sig_pipe[1], &b, 1) < 0) {
	}
	errno = saved;
}

int ktd_signals_init(struct ktd_error *err)
{
	static const int sigs[] = {SIGTERM, SIGINT, SIGQUIT, SIGHUP};
	struct sigaction sa;
	size_t i;

	if (pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return ktd_error_set(err, KTD_ERR_IO, "pipe: %s",
		                     strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (i = 0; i < KTD_N_ELEMENTS(sigs); i++) {
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return ktd_error_set(err, KTD_ERR_IO, "sigaction: %s",
			                     strerror(errno));
	}
	sa.sa_handler = SIG_IGN;
	if (sigaction(SIGPIPE, &sa, NULL) < 0)
		return ktd_error_set(err, KTD_ERR_IO, "sigaction: %s",
		                     strerror(errno));
	return 0;
}

void ktd_signals_deinit(void)
{
	if (sig_pipe[0] >= 0)
		close(sig_pipe[0]);
	if (sig_pipe[1] >= 0)
		close(sig_pipe[1]);
	sig_pipe[0] = sig_pipe[1] = -1;
}

int ktd_signals_fd(void)
{
	return sig_pipe[0];
}

int ktd_signals_next(void)
{
	unsigned char b;

	if (read(sig_pipe[0], &b, 1) == 1)
		return b;
	return 0;
}
