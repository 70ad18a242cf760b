-- 0003: a naive word index kept up to date by triggers.
CREATE TABLE note_words (
	note_id INTEGER NOT NULL REFERENCES notes (id) ON DELETE CASCADE,
	word TEXT NOT NULL
);
CREATE INDEX note_words_word ON note_words (word);

/* Trigger bodies hold ';' between BEGIN and END: they are one statement
   each, not three. */
CREATE TRIGGER notes_ai AFTER INSERT ON notes BEGIN
	INSERT INTO note_words (note_id, word) VALUES (new.id, lower(new.title));
END;
CREATE TRIGGER notes_ad AFTER DELETE ON notes BEGIN
	DELETE FROM note_words WHERE note_id = old.id;
END;

-- Index what is already there; tags come from 0002.
INSERT INTO note_words (note_id, word) SELECT id, lower(title) FROM notes;
INSERT INTO note_words (note_id, word) SELECT note_id, tag FROM tags;
