"""CSV tables in and out of the command line: read with a required column, written whole or not at all."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Sequence
from pathlib import Path

from servecast.errors import InputError
from servecast.files import write_text_atomically


def read_csv_rows(path: Path, required: str, what: str) -> tuple[list[str], list[dict[str, str]]]:
    """The header and rows of a CSV file ('-' reads standard input); an InputError when `required` is missing."""
    try:
        text = sys.stdin.read() if str(path) == "-" else path.read_text()
    except FileNotFoundError:
        raise InputError(f"input file {str(path)!r} not found", "check the path") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [name.strip() for name in reader.fieldnames or []]
    if required not in header:
        raise InputError(
            f"{path}: no {required!r} column (header: {', '.join(header) or 'empty'})",
            f"the first row names the columns: {what}",
        )
    return header, [{key.strip(): (value or "").strip() for key, value in row.items() if key} for row in reader]


def write_csv(path: Path, columns: Sequence[str], records: Sequence[dict[str, object]]) -> None:
    """Write all rows at once through a temporary file, so a failure never leaves half a CSV."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow({key: ("" if value is None else value) for key, value in record.items()})
    write_text_atomically(path, buffer.getvalue())
