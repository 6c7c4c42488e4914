"""copy_manifest.py: reads mosta-copy manifests for the copy_*.sh tests (Debian's python3, standard library only).

  tables MANIFEST            one line per table: "schema.name<TAB>rows<TAB>checksum"
  columns MANIFEST           one line per table: "schema.name<TAB>quoted name<TAB>{copied,columns}" (the name as
                             a regclass reads it, the copied columns as a PostgreSQL text[] literal)
  same MANIFEST MANIFEST     exit 0 when both list the same tables with the same rows and checksums, else print
                             the differences and exit 1
  json FILE                  exit 0 when FILE is one valid JSON document (json.load)
"""
import json
import sys


def load(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def tables(manifest):
    return {t["schema"] + "." + t["name"]: (int(t["rows"]), t["checksum"]) for t in manifest["tables"]}


def quote(name):
    return '"' + name.replace('"', '""') + '"'


def pg_array(names):
    return "{" + ",".join('"' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in names) + "}"


def main(argv):
    command = argv[1]
    if command == "tables":
        for name, (rows, checksum) in sorted(tables(load(argv[2])).items()):
            print(f"{name}\t{rows}\t{checksum}")
    elif command == "columns":
        for t in load(argv[2])["schema"]["tables"]:
            copied = [c["name"] for c in t["columns"] if not c.get("generated")]
            print(f'{t["schema"]}.{t["name"]}\t{quote(t["schema"])}.{quote(t["name"])}\t{pg_array(copied)}')
    elif command == "same":
        a, b = tables(load(argv[2])), tables(load(argv[3]))
        if a == b:
            return 0
        for name in sorted(set(a) | set(b)):
            if a.get(name) != b.get(name):
                print(f"  {name}: {a.get(name)} vs {b.get(name)}")
        return 1
    elif command == "json":
        load(argv[2])
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
