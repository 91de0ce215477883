/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KWCTL_REPORT_H
#define KWCTL_REPORT_H
/*
 * The governance report's pure part (kwctl_report_build.c): aggregation of
 * admin-API documents and audit records into the report document
 * (docs/report.schema.json), and its Markdown and HTML renderings. No I/O.
 */
#include <stdint.h>

#include <jansson.h>

struct kwctl_report_in {
	int64_t now;          /* seconds since the epoch */
	long days;            /* the window of records: [now - days*86400, now] */
	json_t *keys;         /* GET /admin/v1/keys */
	json_t *policies;     /* GET /admin/v1/policies */
	json_t *refvals;      /* GET /admin/v1/refvals */
	json_t *records;      /* audit records in the window (array) */
	json_t *rotations;    /* every token_key_rotation record (array) */
	json_t *checkpoint;   /* the checkpoint status object (kwctl_report.c) */
	int64_t checkpoint_first_at;   /* the first checkpoint's time, -1: none */
};

void kwctl_report_in_clear(struct kwctl_report_in *in);
/* The report document (new reference), NULL when out of memory. */
json_t *kwctl_report_build(const struct kwctl_report_in *in);
/* Renderings (malloc'd, NUL-terminated), NULL when out of memory. */
char *kwctl_report_md(const json_t *report);
char *kwctl_report_html(const json_t *report);
/* The HTML escape of s appended to a growing buffer: exposed for the unit test. */
char *kwctl_report_html_escape(const char *s);

#endif
