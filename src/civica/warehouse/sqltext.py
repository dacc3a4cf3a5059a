"""SQL text helpers shared by every engine: splitting a script into statements and telling
whether a statement is a query `COPY (...) TO` can export.

The splitter is a small lexer, not a parser: it knows single-quoted strings (with `''` and
E'\\'' escapes), double-quoted identifiers, dollar-quoted bodies (`$$...$$`, `$tag$...$tag$`),
`--` line comments and nested `/* */` comments, so a `;` inside any of them does not end a
statement. That is what PostgreSQL, Redshift and DuckDB agree on.
"""

from __future__ import annotations

import re

_DOLLAR_TAG = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)?\$")
_WORD = re.compile(r"[A-Za-z_]+")
# First keywords of statements that produce rows and that COPY (statement) TO accepts.
COPYABLE = frozenset({"select", "with", "values", "table", "from"})


def split_statements(sql: str) -> list[str]:
    """The statements of `sql`, in order, without their terminating `;` and without empty ones
    (a statement of only comments is dropped too)."""
    out: list[str] = []
    start = 0
    i = 0
    n = len(sql)
    while i < n:
        ch = sql[i]
        if ch == "'":
            backslash = i > 0 and sql[i - 1] in "eE" and (i < 2 or not sql[i - 2].isalnum())
            i += 1
            while i < n:
                if backslash and sql[i] == "\\":
                    i += 2
                    continue
                if sql[i] == "'":
                    if i + 1 < n and sql[i + 1] == "'":
                        i += 2
                        continue
                    break
                i += 1
            i += 1
        elif ch == '"':
            end = sql.find('"', i + 1)
            while end != -1 and end + 1 < n and sql[end + 1] == '"':
                end = sql.find('"', end + 2)
            i = n if end == -1 else end + 1
        elif ch == "-" and sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif ch == "/" and sql.startswith("/*", i):
            i = _end_of_block_comment(sql, i)
        elif ch == "$" and (i == 0 or not (sql[i - 1].isalnum() or sql[i - 1] == "_")):
            match = _DOLLAR_TAG.match(sql, i)
            if match is None:
                i += 1
                continue
            tag = match.group(0)
            end = sql.find(tag, match.end())
            i = n if end == -1 else end + len(tag)
        elif ch == ";":
            out.append(sql[start:i])
            i += 1
            start = i
        else:
            i += 1
    out.append(sql[start:])
    return [s.strip() for s in out if first_keyword(s)]


def _skip_space_and_comments(sql: str, i: int) -> int:
    n = len(sql)
    while i < n:
        if sql[i].isspace() or sql[i] == "(":
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end == -1 else end + 1
        elif sql.startswith("/*", i):
            i = _end_of_block_comment(sql, i)
        else:
            break
    return i


def _end_of_block_comment(sql: str, i: int) -> int:
    """The index after the (possibly nested) block comment starting at `i`."""
    depth = 0
    n = len(sql)
    while i < n:
        if sql.startswith("/*", i):
            depth += 1
            i += 2
        elif sql.startswith("*/", i):
            depth -= 1
            i += 2
            if depth == 0:
                return i
        else:
            i += 1
    return n


def first_keyword(statement: str) -> str:
    """The statement's first word, lower-cased ('' for a statement of only comments)."""
    i = _skip_space_and_comments(statement, 0)
    match = _WORD.match(statement, i)
    return match.group(0).lower() if match else ("?" if i < len(statement) else "")


def is_copyable_query(statement: str) -> bool:
    """Whether `COPY (statement) TO ...` can export it: a SELECT, WITH, VALUES, TABLE or
    (DuckDB) FROM-first query."""
    return first_keyword(statement) in COPYABLE


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"
