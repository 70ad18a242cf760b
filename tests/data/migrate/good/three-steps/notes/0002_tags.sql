-- 0002: tags; a row goes away with its note.
CREATE TABLE tags (
	note_id INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
	tag TEXT NOT NULL,
	PRIMARY KEY (note_id, tag)
);
CREATE INDEX tags_tag ON tags (tag);
