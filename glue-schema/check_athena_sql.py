"""Parses every generated Athena statement with sqlglot's `athena` dialect (Trino SQL for
queries and views, Hive DDL for external tables): `just sql-check`, part of `just test`.

Run from the repository root: `python3 glue-schema/check_athena_sql.py [FILE ...]`; each FILE
(e.g. the CDK's curated-job statements, printed by infra-cdk/scripts/curated-sql.ts) is
parsed too. Exits non-zero,
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
    extra = [pathlib.Path(a).resolve() for a in sys.argv[1:]]
    failed = 0
    for f in files + extra:
        try:
            parse(f.read_text(encoding="utf-8"))
        except (ParseError, OSError) as e:
            failed += 1
            print(f"sql-check: {f}: {str(e).splitlines()[0]}", file=sys.stderr)
    print(f"sql-check: {len(files) + len(extra) - failed} of {len(files) + len(extra)} files parse as Athena SQL "
          f"({len(files)} under glue-schema/athena/, {len(extra)} more; sqlglot {sqlglot.__version__})")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
