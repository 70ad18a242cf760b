PRAGMA page_size = 1024;
CREATE TABLE a (x INTEGER);
PRAGMA page_size = 2048;
PRAGMA page_size;
