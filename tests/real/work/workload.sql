-- SPDX-License-Identifier: MIT
-- tests/real: a deterministic workload for Debian's sqlite3 shell on a file
-- database in WAL mode: tables from recursive CTEs, indexes, joins, window
-- functions, JSON, FTS5, R*Tree, triggers, views, upserts, savepoints,
-- ANALYZE, VACUUM, the shell's output modes and .dump; one failing
-- statement (its message goes to stderr); .exit 3.
PRAGMA journal_mode=WAL;
PRAGMA foreign_keys=ON;
CREATE TABLE dept(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, budget INTEGER);
CREATE TABLE emp(id INTEGER PRIMARY KEY, dept INTEGER REFERENCES dept(id), name TEXT,
	salary INTEGER, hired TEXT, tags TEXT);
CREATE TABLE log(id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
CREATE TRIGGER emp_raise AFTER UPDATE OF salary ON emp WHEN new.salary > old.salary * 1.1
BEGIN INSERT INTO log(what) VALUES ('raise ' || new.id); END;
BEGIN;
WITH RECURSIVE d(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM d WHERE i < 12)
INSERT INTO dept SELECT i, printf('dept%02d', i), i * 12345 % 100000 FROM d;
WITH RECURSIVE e(i, x) AS (SELECT 1, 12345 UNION ALL
	SELECT i + 1, (x * 69069 + 1) % 4294967296 FROM e WHERE i < 3000)
INSERT INTO emp SELECT i, x % 12 + 1, printf('emp%05d', i), 30000 + x % 70001,
	date('2020-01-01', '+' || (x % 1500) || ' days'),
	json_array('t' || (x % 5), 't' || (x % 7)) FROM e;
COMMIT;
CREATE INDEX emp_dept ON emp(dept, salary);
CREATE VIEW dept_pay AS SELECT d.name, count(*) n, sum(e.salary) total, avg(e.salary) mean
	FROM emp e JOIN dept d ON d.id = e.dept GROUP BY d.id;
.headers on
.mode column
SELECT * FROM dept_pay ORDER BY total DESC LIMIT 5;
.mode box
SELECT name, salary, rank() OVER (PARTITION BY dept ORDER BY salary DESC) r,
	sum(salary) OVER (PARTITION BY dept ORDER BY id ROWS 2 PRECEDING) s3
	FROM emp WHERE dept = 3 ORDER BY salary DESC, id LIMIT 6;
.mode list
.headers off
SELECT strftime('%Y', hired) y, count(*), min(salary), max(salary) FROM emp GROUP BY y ORDER BY y;
SELECT json_group_array(name) FROM (SELECT name FROM dept ORDER BY id LIMIT 4);
SELECT json_extract(tags, '$[1]') t, count(*) FROM emp GROUP BY t ORDER BY t;
SELECT json_object('n', count(*), 'avg', round(avg(salary), 2)) FROM emp WHERE hired >= '2022-06-01';
SAVEPOINT s1;
UPDATE emp SET salary = salary * 2 WHERE id % 100 = 0;
SELECT count(*) FROM log;
ROLLBACK TO s1;
RELEASE s1;
SELECT count(*) FROM log;
UPDATE emp SET salary = salary + 9000 WHERE id % 250 = 0 AND salary < 40000;
SELECT what FROM log ORDER BY id;
INSERT INTO dept VALUES (5, 'dept05', 1) ON CONFLICT(id) DO UPDATE SET budget = budget + excluded.budget;
SELECT budget FROM dept WHERE id = 5;
DELETE FROM emp WHERE salary BETWEEN 50000 AND 52000;
SELECT count(*), total(salary) FROM emp;
CREATE VIRTUAL TABLE doc USING fts5(title, body);
INSERT INTO doc SELECT name, 'salary ' || salary || ' hired ' || hired || ' tags ' || tags FROM emp
	WHERE id % 50 = 1;
SELECT count(*) FROM doc WHERE doc MATCH 'hired AND t3';
SELECT title FROM doc WHERE doc MATCH 'body:t4 NOT t6' ORDER BY rank, title LIMIT 3;
CREATE VIRTUAL TABLE box USING rtree(id, x0, x1, y0, y1);
WITH RECURSIVE b(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM b WHERE i < 200)
INSERT INTO box SELECT i, i % 20, i % 20 + 3, i / 10, i / 10 + 2 FROM b;
SELECT count(*) FROM box WHERE x0 <= 5 AND x1 >= 4 AND y0 <= 10 AND y1 >= 9;
WITH RECURSIVE c(n, f) AS (SELECT 1, 1 UNION ALL SELECT n + 1, f * (n + 1) FROM c WHERE n < 20)
SELECT group_concat(f, ',') FROM (SELECT f FROM c WHERE n > 15);
SELECT printf('%08.3f|%-6s|%x|%q', 3.14159, 'ab', 255, 'it''s'), hex(zeroblob(4)), upper('mixed'),
	substr('abcdef', 2, 3), instr('hello', 'll'), replace('a-b-c', '-', '+'), abs(-7), 7 / 2, 7 % 3,
	round(2.675, 2), typeof(1.0), length(x'00ff'), unicode('é'), char(72, 105);
ANALYZE;
SELECT tbl, idx FROM sqlite_stat1 ORDER BY tbl, idx;
PRAGMA integrity_check;
PRAGMA wal_checkpoint(TRUNCATE);
VACUUM;
PRAGMA page_count;
CREATE TABLE small(a, b);
INSERT INTO small VALUES (1, 'one'), (2, NULL), (3, x'0102');
.dump small
.schema dept
SELECT * FROM no_such_table;
SELECT 'after the error';
SELECT 'END';
.exit 3
