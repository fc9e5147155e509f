"""Parses every generated Athena statement with sqlglot's `athena` dialect (Trino SQL for
queries and views, Hive DDL for external tables): `just sql-check`, part of `just test`.

Run from the repository root: `python3 glue-schema/check_athena_sql.py`. Exits non-zero,
naming the file and sqlglot's message, when a file does not parse; a known-broken statement is
parsed first so that a parser that accepts anything cannot pass the check.
"""
import pathlib
import sys

import sqlglot
from sqlglot.errors import ParseError

ROOT = pathlib.Path(__file__).resolve().parent / "athena"


def parse(text):
    """The statements of `text`, or a ParseError."""
    statements = [s for s in sqlglot.parse(text, read="athena") if s is not None]
    if not statements:
        raise ParseError("no statement")
    for s in statements:
        if isinstance(s, sqlglot.exp.Command):
            # sqlglot's fallback for text it does not understand: not a parse.
            raise ParseError(f"not understood as Athena SQL: {s.sql()[:80]}")
    return statements


def main():
    try:
        parse("CREATE OR REPLACE VIEW v AS SELECT FROM WHERE")
    except ParseError:
        pass
    else:
        sys.exit("sql-check: the parser accepted a broken statement; the check is not live")
    files = sorted(ROOT.rglob("*.sql"))
    if not files:
        sys.exit(f"sql-check: no .sql files under {ROOT}")
    failed = 0
    for f in files:
        try:
            parse(f.read_text(encoding="utf-8"))
        except ParseError as e:
            failed += 1
            print(f"sql-check: {f.relative_to(ROOT.parent.parent)}: {str(e).splitlines()[0]}", file=sys.stderr)
    print(f"sql-check: {len(files) - failed} of {len(files)} files under glue-schema/athena/ parse as Athena SQL (sqlglot {sqlglot.__version__})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
