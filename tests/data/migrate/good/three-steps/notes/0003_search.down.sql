DROP TRIGGER notes_ad;
DROP TRIGGER notes_ai;
DROP TABLE note_words;
