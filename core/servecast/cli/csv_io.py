"""CSV tables in and out of the command line: read with a required column, written whole or not at all."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from servecast.csv_table import parse_csv
from servecast.errors import InputError, undecodable
from servecast.files import write_text_atomically


def read_csv_rows(path: Path, required: str, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a UTF-8 CSV file ('-' reads standard input; a byte-order mark, as Excel writes, is
    skipped); an InputError when `required` is missing, when `parse_csv` refuses it, or when there are no rows."""
    name = "standard input" if str(path) == "-" else repr(str(path))
    try:
        data = sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
        text = data.decode("utf-8-sig")
    except FileNotFoundError:
        raise InputError(f"input file {str(path)!r} not found", "check the path") from None
    except UnicodeDecodeError as error:
        raise InputError(f"{name} is not UTF-8 text: {undecodable(error)}", "save the file as UTF-8 CSV") from None
    table = parse_csv(text, name)
    header = table.header
    if required not in header:
        raise InputError(
            f"{name}: no {required!r} column (header: {', '.join(header) or 'empty'})",
            f"the first row names the columns: {what}",
        )
    rows = table.records()
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
