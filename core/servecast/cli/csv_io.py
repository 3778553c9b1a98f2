"""CSV tables in and out of the command line: read with a required column, written whole or not at all."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from servecast.errors import InputError, undecodable
from servecast.files import write_text_atomically


def read_csv_rows(path: Path, required: str, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a UTF-8 CSV file ('-' reads standard input; a byte-order mark, as Excel writes, is
    skipped); an InputError when `required` is missing, a column repeats, a row has more fields than the header,
    or there are no rows."""
    name = "standard input" if str(path) == "-" else repr(str(path))
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"input file {str(path)!r} not found", "check the path") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{name} is not UTF-8 text: {undecodable(error)}", "save the file as UTF-8 CSV") from None
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise InputError(f"{name} is not a readable CSV: {error}", "save it as plain comma-separated text") from None
    records = [(number, fields) for number, fields in enumerate(table, start=1) if any(f.strip() for f in fields)]
    header = [column.strip() for column in records[0][1]] if records else []
    if required not in header:
        raise InputError(
            f"{name}: no {required!r} column (header: {', '.join(header) or 'empty'})",
            f"the first row names the columns: {what}",
        )
    repeated = sorted({column for column in header if header.count(column) > 1 and column})
    if repeated:
        raise InputError(f"{name}: column(s) {', '.join(map(repr, repeated))} appear more than once", "keep one each")
    rows = []
    for number, fields in records[1:]:
        if len(fields) > len(header) and any(field.strip() for field in fields[len(header) :]):
            raise InputError(
                f"{name}, line {number}: {len(fields)} fields under a header of {len(header)} columns",
                "remove the extra fields, or quote a value that holds a comma",
            )
        rows.append({column: field.strip() for column, field in zip(header, fields, strict=False) if column})
    if not rows:
        raise InputError(f"{name}: no rows under the header", "add one row per item to estimate")
    return header, rows


def write_csv(path: Path, columns: Sequence[str], records: Sequence[dict[str, object]]) -> None:
    """Write all rows at once through a temporary file, so a failure never leaves half a CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({key: ("" if value is None else value) for key, value in record.items()})
    write_text_atomically(path, buffer.getvalue())
