-- adds a column, then a typo
ALTER TABLE a ADD COLUMN y TEXT;

CREAT TABLE b (x);
CREATE TABLE c (x);
