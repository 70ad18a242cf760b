-- notes: one row per note.
CREATE TABLE notes (
	id         INTEGER PRIMARY KEY,
	title      TEXT NOT NULL CHECK (length(title) BETWEEN 1 AND 500),
	body       TEXT NOT NULL DEFAULT '',
	created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
	updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX notes_updated ON notes (updated_at);
