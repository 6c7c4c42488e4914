# shellcheck shell=bash
# copy.sh: what the mosta-copy scripts (test/integration/copy_*.sh) share, sourced after tap.sh. The type zoo is
# lib/copy_zoo.sql (schemas zoo and app); a database compared with its checksums needs the mostajs extension.
#
#   zoo_checksums DB         "schema.table rows checksum" per table of zoo and app (plain and partitioned, not
#                            the partitions), sorted bytewise: mosta_checksum over the copied columns (every
#                            column but the generated ones), what a manifest holds
#   manifest_checksums FILE  the same lines from a mosta-copy manifest
#   zoo_schema DB            pg_dump --schema-only of zoo and app, without comments, settings, owners and the
#                            \restrict keys: two databases with the same schema print the same text

zoo_checksums() {
	psql -X -At -F ' ' -v ON_ERROR_STOP=1 -d "$1" -c "
		SELECT format('%s.%s', n.nspname, c.relname), s.row_count, s.checksum
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace,
		LATERAL mosta_checksum(c.oid, ARRAY(SELECT attname::text FROM pg_attribute
			WHERE attrelid = c.oid AND attnum > 0 AND NOT attisdropped AND attgenerated = '' ORDER BY attnum)) s
		WHERE n.nspname IN ('zoo', 'app') AND c.relkind IN ('r', 'p') AND NOT c.relispartition" | LC_ALL=C sort
}

manifest_checksums() {
	/usr/bin/python3 -c 'import json, sys
for t in json.load(open(sys.argv[1]))["tables"]:
    print("%s.%s %d %s" % (t["schema"], t["name"], t["rows"], t["checksum"]))' "$1" | LC_ALL=C sort
}

zoo_schema() {
	pg_dump --schema-only --no-owner --no-privileges -n zoo -n app -d "$1" |
		grep -v -e '^--' -e '^$' -e '^SET ' -e '^SELECT pg_catalog.set_config' -e '^\\restrict ' -e '^\\unrestrict '
}
