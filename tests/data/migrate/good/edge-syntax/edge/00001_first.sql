/* Five-digit version, comments, and ';' where it does not end a
   statement. */
CREATE TABLE t (
	id INTEGER PRIMARY KEY,	-- a comment; with a semicolon
	s TEXT
);
INSERT INTO t (s) VALUES ('a;b'), ('-- not a comment'), ('/* nor this */');
INSERT INTO "t" (s) VALUES ('"quoted;"'); -- a string holding ;
SAVEPOINT inner;
INSERT INTO t (s) VALUES ('rolled back');
ROLLBACK TO inner;
RELEASE inner;
PRAGMA defer_foreign_keys = ON;
PRAGMA foreign_keys;
SELECT count(*) FROM t;
CREATE TRIGGER t_ai AFTER INSERT ON t WHEN new.s = 'x;y' BEGIN
	UPDATE t SET s = 'x' WHERE id = new.id;
	SELECT 1;
END;;
-- the last statement has no ';'
CREATE TABLE u (x)
