/* SPDX-License-Identifier: Apache-2.0 */
#ifndef HSM_SUPERVISE_H
#define HSM_SUPERVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "kw_err.h"

/*
 * keywarden-hsm's supervisor mode (docs/hsm.md "Supervisor mode"): it runs
 * as its own user, listens on an AF_UNIX SOCK_SEQPACKET socket (its own, or
 * one passed by systemd), checks each peer's SO_PEERCRED against an allow
 * list, and fork+execs a fresh serving helper (the fd 3 mode) for the one
 * active session. It never loads the PKCS#11 module or reads the PIN.
 */

#define HSM_ALLOW_MAX 8

/* The uids allowed to talk to the helper. */
struct hsm_allow {
	uid_t uid[HSM_ALLOW_MAX];
	size_t n;
};

/*
 * Add a decimal uid (no sign, no leading zero except "0", < 2^32-1).
 * KW_ERR_INVALID_FORMAT for anything else, KW_ERR_TOO_LARGE when the list
 * is full. A uid already present is not added twice.
 */
int hsm_allow_add_uid(struct hsm_allow *a, const char *s) KW_WUR;

/* Add the uid of user name (getpwnam). KW_ERR_NOT_FOUND, KW_ERR_TOO_LARGE. */
int hsm_allow_add_user(struct hsm_allow *a, const char *name) KW_WUR;

bool hsm_allow_has(const struct hsm_allow *a, uid_t uid);

/*
 * The credentials of the peer of the connected AF_UNIX socket fd (the
 * process that connected, or that created the socketpair). 0 and *ret, or
 * KW_ERR_IO (*ret untouched).
 */
int hsm_peer_cred(int fd, struct ucred *ret) KW_WUR;

/*
 * systemd socket activation without libsystemd (sd_listen_fds(3)):
 * listen_pid and listen_fds are the values of LISTEN_PID and LISTEN_FDS
 * (NULL when unset), self our pid. Returns 0 and *ret_fd (3) when exactly
 * one descriptor was passed to us; KW_ERR_NOT_FOUND when none was passed
 * or they were meant for another pid; KW_ERR_INVALID_FORMAT for malformed
 * values; KW_ERR_UNSUPPORTED for more than one descriptor.
 */
int hsm_listen_fds_parse(const char *listen_pid, const char *listen_fds, pid_t self,
    int *ret_fd) KW_WUR;

struct hsm_supervise_config {
	const char *listen_path;   /* socket to create when systemd passed none */
	mode_t socket_mode;        /* of a socket we create (e.g. 0660) */
	const char *self_exe;      /* this program, exec'd for each session */
	/* passed to the serving helper */
	const char *module, *token, *pin_file, *softhsm2_conf;
	const char *recycle_after; /* decimal, or NULL for the helper's default */
	const char *log_level;     /* or NULL */
	const char *log_format;    /* or NULL */
	const char *journal_socket; /* or NULL */
	const char *release_assembly; /* "hsm", "helper" or NULL (the helper's default) */
	struct hsm_allow allow;    /* at least one uid */
};

/*
 * Run the supervisor until SIGTERM/SIGINT. Returns the process exit status
 * (0 on a clean stop; 1 when it cannot listen). Logs each session, each
 * refused peer (at most one line per second) and each serving helper that
 * ends abnormally.
 */
int hsm_supervise(const struct hsm_supervise_config *cfg);

#endif
