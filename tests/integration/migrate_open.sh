#!/bin/sh
# Migrate on open: a tenant behind its schema's latest version is brought
# forward on its first request; a step that fails for one tenant's data
# leaves that tenant at its last good version, serving, with the error.
. "$TOP_SRCDIR/tests/lib.sh"

mkdir -p "$TD_TMP/schemas"
cp -r "$TOP_SRCDIR/schemas/notes" "$TD_TMP/schemas/"
td_start --schemas "$TD_TMP/schemas" || { echo "not ok 1 - tenantd starts"; tap_done; }

q() {	# q TENANT SQL -> the pipeline's JSON answer
	curl -sS "$TD_URL/t/$1/v2/pipeline" -d "{\"requests\":[{\"type\":\"execute\",\"stmt\":{\"sql\":\"$2\"}},{\"type\":\"close\"}]}"
}
for t in dup uniq; do
	td_curl POST /v1/tenants "{\"id\":\"$t\",\"schema\":\"notes\"}" >/dev/null
done
q dup "INSERT INTO notes (title) VALUES ('same'), ('same')" >/dev/null
q uniq "INSERT INTO notes (title) VALUES ('one'), ('two')" >/dev/null
td_stop

cat >"$TD_TMP/schemas/notes/0004_pinned.sql" <<'SQL'
ALTER TABLE notes ADD COLUMN pinned INTEGER NOT NULL DEFAULT 0;
SQL
cat >"$TD_TMP/schemas/notes/0005_unique_titles.sql" <<'SQL'
CREATE UNIQUE INDEX notes_title ON notes (title);
SQL
td_start --schemas "$TD_TMP/schemas" || { echo "not ok 1 - tenantd restarts"; tap_done; }

r=$(td_curl GET /v1/tenants/uniq)
tap_ok "before its first request the catalog still says version 3" \
    sh -c "echo '$r' | grep -q '\"version\":3'"
r=$(q uniq "SELECT count(*) FROM notes WHERE pinned = 0")
tap_ok "first request after the new files sees the new column" \
    sh -c "echo '$r' | grep -q '\"value\":\"2\"'"
r=$(td_curl GET /v1/tenants/uniq)
tap_ok "the tenant is now at version 5 with no error" \
    sh -c "echo '$r' | grep -q '\"version\":5' && echo '$r' | grep -q '\"last_error\":null'"

r=$(q dup "SELECT count(*) FROM notes WHERE pinned = 0")
tap_ok "a tenant whose data breaks step 5 still serves, at version 4" \
    sh -c "echo '$r' | grep -q '\"value\":\"2\"'"
r=$(td_curl GET /v1/tenants/dup)
tap_ok "its catalog entry says version 4" sh -c "echo '$r' | grep -q '\"version\":4'"
tap_ok "and carries the error naming the file and SQLite's message" \
    sh -c "echo '$r' | grep -q '0005_unique_titles.sql.*UNIQUE constraint failed'"
r=$(q dup "SELECT version FROM _tenantd_migrations ORDER BY version DESC LIMIT 1")
tap_ok "the record inside the file agrees: last applied version 4" \
    sh -c "echo '$r' | grep -q '\"value\":\"4\"'"
r=$(q dup "PRAGMA user_version")
tap_ok "and so does user_version" sh -c "echo '$r' | grep -q '\"value\":\"4\"'"
r=$(q dup "DELETE FROM _tenantd_migrations")
tap_ok "tenant SQL cannot touch the migration record" \
    sh -c "echo '$r' | grep -q 'SQLITE_AUTH'"
tap_done
