-- A migration that tries to manage its own transaction: BEGIN is on
-- line 3 and COMMIT on line 6.
BEGIN;
CREATE TABLE b (x INTEGER);
INSERT INTO b VALUES (1);
COMMIT;
