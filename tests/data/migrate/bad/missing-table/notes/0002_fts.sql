/* search index over notes
   (a block comment over two lines) */
CREATE TABLE notes_idx (id INTEGER PRIMARY KEY, body TEXT);

INSERT INTO notes_idx (id, body)
	SELECT id, body FROM notez;
