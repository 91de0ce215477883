/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "kw_log.h"
#include "sdnotify.h"

struct kw_sdnotify {
	int fd;
	struct sockaddr_un sa;
	socklen_t salen;
	uint64_t watchdog_usec;
};

#define SDNOTIFY_MAX 512   /* one datagram: our messages are short */

/* WATCHDOG_USEC for this process, or 0. */
static uint64_t
watchdog_env(void)
{
	const char *u = getenv("WATCHDOG_USEC"), *p = getenv("WATCHDOG_PID");
	unsigned long long v, pid;
	char *end;

	if (u == NULL)
		return 0;
	errno = 0;
	v = strtoull(u, &end, 10);
	if (errno != 0 || end == u || *end != '\0' || v == 0)
		return 0;
	if (p != NULL) {
		pid = strtoull(p, &end, 10);
		if (errno != 0 || end == p || *end != '\0' || pid != (unsigned long long)getpid())
			return 0;
	}
	return (uint64_t)v;
}

int
kw_sdnotify_open(struct kw_sdnotify **ret)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct kw_sdnotify *n = NULL;
	size_t len;
	int r = KW_ERR_INTERNAL;

	if (e == NULL || e[0] == '\0') {
		*ret = NULL;
		r = 0;
		goto out;
	}
	len = strlen(e);
	if ((e[0] != '/' && e[0] != '@') || len < 2 || len >= sizeof(n->sa.sun_path)) {
		r = KW_ERR_INVALID_ARG;
		goto out;
	}
	if ((n = calloc(1, sizeof(*n))) == NULL) {
		r = KW_ERR_NOMEM;
		goto out;
	}
	n->sa.sun_family = AF_UNIX;
	memcpy(n->sa.sun_path, e, len);
	if (e[0] == '@')
		n->sa.sun_path[0] = '\0';    /* abstract: the name is the bytes after NUL, unterminated */
	n->salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + (e[0] == '/'));
	n->watchdog_usec = watchdog_env();
	if ((n->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		free(n);
		n = NULL;
		r = KW_ERR_IO;
		goto out;
	}
	*ret = n;
	n = NULL;    /* transferred */
	r = 0;
out:
	/* never inherited by keywarden-hsm (or anything we start): only the main process notifies */
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	return r;
}

void
kw_sdnotify_free(struct kw_sdnotify *n)
{
	if (n == NULL)
		return;
	close(n->fd);
	free(n);
}

uint64_t
kw_sdnotify_watchdog_usec(const struct kw_sdnotify *n)
{
	return n != NULL ? n->watchdog_usec : 0;
}

int
kw_sdnotify_send(struct kw_sdnotify *n, const char *assignments)
{
	ssize_t w;

	if (n == NULL)
		return 0;
	do {
		w = sendto(n->fd, assignments, strlen(assignments), MSG_NOSIGNAL | MSG_DONTWAIT,
		    (const struct sockaddr *)&n->sa, n->salen);
	} while (w < 0 && errno == EINTR);
	if (w < 0) {
		kw_log_debug("NOTIFY_SOCKET: %s", strerror(errno));
		return KW_ERR_IO;
	}
	return 0;
}

/*
 * Send "<head>STATUS=<status>" (head: "" or assignments ending in '\n');
 * status is escaped to one line.
 */
static int
send_status(struct kw_sdnotify *n, const char *head, const char *status)
{
	char buf[SDNOTIFY_MAX], st[300];

	if (n == NULL)
		return 0;
	kw_log_escape(status, 200, st, sizeof(st));
	snprintf(buf, sizeof(buf), "%sSTATUS=%s", head, st);
	return kw_sdnotify_send(n, buf);
}

int
kw_sdnotify_ready(struct kw_sdnotify *n, const char *status)
{
	return send_status(n, "READY=1\n", status);
}

int
kw_sdnotify_status(struct kw_sdnotify *n, const char *status)
{
	return send_status(n, "", status);
}

int
kw_sdnotify_watchdog(struct kw_sdnotify *n)
{
	return kw_sdnotify_send(n, "WATCHDOG=1");
}

int
kw_sdnotify_reloading(struct kw_sdnotify *n, const char *status)
{
	char head[80];
	struct timespec ts;

	if (n == NULL)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(head, sizeof(head), "RELOADING=1\nMONOTONIC_USEC=%" PRIu64 "\n",
	    (uint64_t)ts.tv_sec * 1000000U + (uint64_t)ts.tv_nsec / 1000U);
	return send_status(n, head, status);
}

int
kw_sdnotify_stopping(struct kw_sdnotify *n, const char *status)
{
	return send_status(n, "STOPPING=1\n", status);
}
