-- search: full-text index over title and body, kept in step by triggers.
CREATE VIRTUAL TABLE notes_fts USING fts5 (
	title, body, content = 'notes', content_rowid = 'id'
);
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
	INSERT INTO notes_fts (rowid, title, body)
	VALUES (new.id, new.title, new.body);
END;
CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN
	INSERT INTO notes_fts (notes_fts, rowid, title, body)
	VALUES ('delete', old.id, old.title, old.body);
END;
CREATE TRIGGER notes_au AFTER UPDATE ON notes BEGIN
	INSERT INTO notes_fts (notes_fts, rowid, title, body)
	VALUES ('delete', old.id, old.title, old.body);
	INSERT INTO notes_fts (rowid, title, body)
	VALUES (new.id, new.title, new.body);
END;
