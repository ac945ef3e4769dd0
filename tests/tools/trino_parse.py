"""Parse SQL statements as Athena (Trino) with sqlglot, an independent parser.

usage: trino_parse.py FILE...   (each file holds one statement)
Prints `ok FILE` or `error FILE: message` per file; exits 1 when any fails.
"""
import sys

import sqlglot
from sqlglot.errors import ParseError

failed = False
for path in sys.argv[1:]:
    sql = open(path).read()
    try:
        trees = sqlglot.parse(sql, read="athena", error_level=sqlglot.ErrorLevel.RAISE)
        if len(trees) != 1 or trees[0] is None:
            raise ParseError(f"expected one statement, got {len(trees)}")
        print(f"ok {path}")
    except ParseError as e:
        failed = True
        print(f"error {path}: {e}".replace("\n", " "))
sys.exit(1 if failed else 0)
