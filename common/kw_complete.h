/* SPDX-License-Identifier: Apache-2.0 */
#ifndef KW_COMPLETE_H
#define KW_COMPLETE_H

#include <stdio.h>

#include "kw_err.h"

/*
 * A bash completion script written from a program's own command and option
 * tables (kwctl --completion bash, kwget --completion bash), so that it
 * cannot disagree with what the program parses or --help prints.
 *
 * A node is a command path: the program name followed by its subcommand
 * words ("kwctl", "kwctl key", "kwctl key create"). For each node the caller
 * names its subcommand words and its flags; the script completes the
 * subcommands of the deepest node the typed words reach, the flags of that
 * node after "-", and the value of a flag after it: file names for a value
 * spec ending in FILE, PATH or F, directories for DIR, the words of an
 * "a|b|c" spec (parts that are not lower-case words, such as @NAME, are
 * left out), nothing for any other spec.
 *
 * Words, paths and specs are restricted to [A-Za-z0-9@._/|-] and single
 * spaces between words, so nothing needs quoting in the script: anything
 * else is refused with KW_ERR_INVALID_ARG, before any output for that call.
 */

struct kw_complete {
	FILE *f;
	char prog[32];     /* the program name (a node path's first word) */
	int r;             /* the first error; later calls do nothing */
};

/* Start the script for prog on f (c is initialized; no allocation). */
int kw_complete_begin(struct kw_complete *c, FILE *f, const char *prog) KW_WUR;
/* The subcommand words of node path (space-separated). */
int kw_complete_children(struct kw_complete *c, const char *path, const char *words) KW_WUR;
/* A flag ("--name") of node path; arg NULL: it takes no value, else its value spec. */
int kw_complete_flag(struct kw_complete *c, const char *path, const char *flag, const char *arg)
    KW_WUR;
/* The completion function and its registration; 0, or the first error of any call. */
int kw_complete_end(struct kw_complete *c) KW_WUR;

#endif
