CREATE TABLE hidden (x);
