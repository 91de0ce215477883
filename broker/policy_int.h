/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_POLICY_INT_H
#define KW_POLICY_INT_H

/*
 * Internals shared by the three parts of the policy module:
 * policy_validate.c (shape of policies and sets), policy_eval.c (decisions and
 * explanations) and policy_lint.c (lint, supersede, durations). Not a public
 * interface: only broker/policy_*.c include it.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "policy.h"

#define UNCONST(v) ((json_t *)(uintptr_t)(v))
#define MAX_CLAIM_FINGERPRINTS 4096 /* a manifest with more fails the check */
#define MAX_CLAIM_LIST 1024         /* TLS name lists in a manifest */
#define MAX_NAME_LEN 128            /* "name" of a measurement entry */
#define MAX_TLS_NAME 64
#define MAX_FLOOR 4294967295LL
#define MAX_KEY_BITS 16384
#define TIME_MAX 253402300799LL     /* 9999-12-31T23:59:59Z */
#define PATH_LEN 320
#define DETAIL_LEN 240


extern const char *const policy_tcb_components[];   /* NULL-terminated; fmc last */
extern const char *const policy_tls_lists[];
extern const char *const policy_rtmr_indexes[];    /* "0".."3": reference_values.rtmr and .rem members */
extern const char *const policy_pcr_banks[];       /* "sha1", "sha256", "sha384": reference_values.pcrs */
extern const char *const policy_pcr_indexes[];     /* "0".."23": reference_values.pcrs.<bank> members */
extern const char *const policy_eventlog_lists[];  /* reference_values.eventlog members */

/* A path being built while walking a document: push returns the old length. */
struct path {
	char s[PATH_LEN];
	size_t n;
};

/* Resolved reference-value sets named by the policy. */
struct sets {
	size_t n;
	const char *name[KW_POLICY_MAX_SETS];
	json_t *doc[KW_POLICY_MAX_SETS];   /* NULL: missing */
};

/* Write a formatted reason into why (NULL-safe). */
void policy_set_why(char *why, size_t whylen, const char *fmt, ...) KW_PRINTF(3, 4);
/* Append "/<fmt>" (or ".<fmt>") to p; returns the old length for policy_path_pop. */
size_t policy_path_push(struct path *p, const char *fmt, ...) KW_PRINTF(2, 3);
void policy_path_pop(struct path *p, size_t old);
bool policy_is_hex_lower(const char *s, size_t n);
bool policy_valid_tls_name(const char *s);
/* The claim at a dotted path, or NULL. */
const json_t *policy_claim_get(const json_t *claims, const char *path);
/* An entry's RFC 3339 member as seconds; *present says whether it was there. */
int policy_entry_time(const json_t *e, const char *member, int64_t *ret, bool *present);
/* Resolve the sets named by reference_values.sets through ctx (need_resolver: fail without one). */
int policy_sets_resolve(const json_t *rv, const struct kw_policy_ctx *ctx, bool need_resolver,
    struct sets *s);
void policy_sets_free(struct sets *s);
/* 0 when now is inside e's window, else a reason in why. */
int policy_window(const json_t *e, int64_t now, char *why, size_t whylen);

#endif
