CREATE TABLE b (x INTEGER);
PRAGMA main.page_size = 4096;
