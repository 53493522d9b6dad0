/* SPDX-License-Identifier: MIT */
/*
 * A program that uses libsqlite3 through its API only, for test_trace.sh:
 * an in-memory table, rows inserted one statement step at a time, then
 * sums read back. It prints what it computed and how many times it called
 * sqlite3_bind_int and sqlite3_column_int64: the counts the probes on those
 * two functions must find (libsqlite3 calls neither itself; it does call
 * sqlite3_step, to read its schema, so that one is not counted here).
 */
#include <sqlite3.h>
#include <stdio.h>

#define ROWS 300
#define MODS 12

static unsigned binds, columns;

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
		fprintf(stderr, "sqlite_app: %s: %s\n", sql, sqlite3_errmsg(db));
		return NULL;
	}
	return s;
}

int main(void)
{
	sqlite3 *db;
	sqlite3_stmt *s;
	long long total = 0;

	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return 1;
	s = prepare(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v INTEGER)");
	if (!s || sqlite3_step(s) != SQLITE_DONE)
		return 1;
	sqlite3_finalize(s);
	s = prepare(db, "INSERT INTO t(v) VALUES(?)");
	if (!s)
		return 1;
	for (int i = 0; i < ROWS; i++) {
		binds++;
		sqlite3_bind_int(s, 1, i * 7 % 101);
		if (sqlite3_step(s) != SQLITE_DONE)
			return 1;
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	s = prepare(db, "SELECT v FROM t WHERE v % ? = 0 ORDER BY k");
	if (!s)
		return 1;
	for (int m = 1; m <= MODS; m++) {
		long long sum = 0;

		binds++;
		sqlite3_bind_int(s, 1, m);
		while (sqlite3_step(s) == SQLITE_ROW) {
			columns++;
			sum += sqlite3_column_int64(s, 0);
		}
		sqlite3_reset(s);
		printf("mod %d: %lld\n", m, sum);
		total += sum;
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
	printf("sqlite_app: total %lld, sqlite3_bind_int %u, sqlite3_column_int64 %u\n", total,
	       binds, columns);
	return 0;
}
