/* SPDX-License-Identifier: GPL-2.0-or-later */
/* The audit tables' columns, in one order for everyone who reads or
 * writes them: store_audit.c's writers and `sbxfw log' (cli/cmd_log.c).
 * For each table, the list of columns and the position of each in it,
 * which is both its parameter (?N) in a writer's INSERT and its column
 * in a row selected as "id, " and the list. The tables themselves are
 * made by store.c's migrations; `sbxfw suggest' selects its aggregates
 * by column name. */
#ifndef SBXFW_AUDIT_COLS_H
#define SBXFW_AUDIT_COLS_H

/* flows: one row a flow (store_flows_insert) */
#define FLOWS_COLUMNS "time, sandbox, family, proto, src, sport, dst, " \
		      "dport, sni, verdict, reason, rule, direction"
#define FLOWS_VALUES "(?,?,?,?,?,?,?,?,?,?,?,?,?)"
#define FLOWS_TIME 1
#define FLOWS_SANDBOX 2
#define FLOWS_FAMILY 3
#define FLOWS_PROTO 4
#define FLOWS_SRC 5
#define FLOWS_SPORT 6
#define FLOWS_DST 7
#define FLOWS_DPORT 8
#define FLOWS_SNI 9
#define FLOWS_VERDICT 10
#define FLOWS_REASON 11
#define FLOWS_RULE 12
#define FLOWS_DIRECTION 13
#define FLOWS_NCOLUMNS 13

/* dns_queries: one row a query (store_dns_insert) */
#define DNS_QUERIES_COLUMNS "time, sandbox, name, type, verdict, reason, " \
			    "answers"
#define DNS_QUERIES_VALUES "(?,?,?,?,?,?,?)"
#define DNS_QUERIES_TIME 1
#define DNS_QUERIES_SANDBOX 2
#define DNS_QUERIES_NAME 3
#define DNS_QUERIES_TYPE 4
#define DNS_QUERIES_VERDICT 5
#define DNS_QUERIES_REASON 6
#define DNS_QUERIES_ANSWERS 7
#define DNS_QUERIES_NCOLUMNS 7

/* requests: one row a brokered request (store_requests_insert) */
#define REQUESTS_COLUMNS "time, sandbox, host, method, path, status, " \
			 "injected, error"
#define REQUESTS_VALUES "(?,?,?,?,?,?,?,?)"
#define REQUESTS_TIME 1
#define REQUESTS_SANDBOX 2
#define REQUESTS_HOST 3
#define REQUESTS_METHOD 4
#define REQUESTS_PATH 5
#define REQUESTS_STATUS 6
#define REQUESTS_INJECTED 7
#define REQUESTS_ERROR 8
#define REQUESTS_NCOLUMNS 8

/* policy_changes: one row a change (store_change_log) */
#define POLICY_CHANGES_COLUMNS "time, sandbox, uid, change"
#define POLICY_CHANGES_VALUES "(?,?,?,?)"
#define POLICY_CHANGES_TIME 1
#define POLICY_CHANGES_SANDBOX 2
#define POLICY_CHANGES_UID 3
#define POLICY_CHANGES_CHANGE 4

#endif
