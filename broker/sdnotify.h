/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_SDNOTIFY_H
#define KW_SDNOTIFY_H

#include <stdint.h>

#include "kw_err.h"

/*
 * Service readiness to systemd (Type=notify) with the documented
 * NOTIFY_SOCKET datagram protocol (sd_notify(3), "Notes": one AF_UNIX
 * SOCK_DGRAM datagram of newline-separated VAR=VALUE assignments to the
 * path in $NOTIFY_SOCKET, '@' for an abstract socket), written here rather
 * than linked from libsystemd (docs/operations-logging.md "systemd" says
 * why). Only the broker notifies; keywarden-hsm never does, so
 * kw_sdnotify_open() removes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID
 * from the environment the helper inherits. Loop thread only.
 */
struct kw_sdnotify;

/*
 * Read $NOTIFY_SOCKET and $WATCHDOG_USEC/$WATCHDOG_PID, then unset them
 * (call before any thread starts). *ret: a notifier, or NULL when
 * NOTIFY_SOCKET is unset (every call below is then a no-op). Errors:
 * KW_ERR_INVALID_ARG (an address that is not a path or '@'-name of at most
 * 107 bytes: vsock is not supported), KW_ERR_IO (no socket); *ret untouched.
 */
int kw_sdnotify_open(struct kw_sdnotify **ret) KW_WUR;
void kw_sdnotify_free(struct kw_sdnotify *n);   /* NULL-safe */
/*
 * WATCHDOG_USEC when the watchdog is meant for us (WATCHDOG_PID unset or
 * our pid), else 0; 0 for NULL.
 */
uint64_t kw_sdnotify_watchdog_usec(const struct kw_sdnotify *n);

/* Send one datagram of assignments, as given ("READY=1\nSTATUS=..."); 0 or KW_ERR_IO. */
int kw_sdnotify_send(struct kw_sdnotify *n, const char *assignments) KW_WUR;
/*
 * The messages the broker sends (each one datagram; status: a short free
 * text, escaped). Best effort: 0 or KW_ERR_IO, which the broker ignores
 * (systemd then sees a timeout), logged at debug.
 */
int kw_sdnotify_ready(struct kw_sdnotify *n, const char *status);       /* READY=1\nSTATUS= */
int kw_sdnotify_status(struct kw_sdnotify *n, const char *status);      /* STATUS= */
int kw_sdnotify_watchdog(struct kw_sdnotify *n);                        /* WATCHDOG=1 */
/*
 * RELOADING=1\nMONOTONIC_USEC=<CLOCK_MONOTONIC now>\nSTATUS=<status>
 * (systemd >= 253 wants the time)
 */
int kw_sdnotify_reloading(struct kw_sdnotify *n, const char *status);
int kw_sdnotify_stopping(struct kw_sdnotify *n, const char *status);    /* STOPPING=1\nSTATUS= */

#endif
