"""Comma-separated tables as servecast reads them: blank lines skipped, column names stripped, a repeated column or
a row with more fields than the header refused, naming its line."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from servecast.errors import InputError


@dataclass(frozen=True)
class CsvTable:
    """The header and the rows under it, each with its line number in the text."""

    header: list[str]
    rows: list[tuple[int, list[str]]]

    def records(self) -> list[dict[str, str]]:
        """Each row as column name -> stripped value (columns without a name left out)."""
        return [
            {column: field.strip() for column, field in zip(self.header, fields, strict=False) if column}
            for _, fields in self.rows
        ]


def parse_csv(text: str, name: str) -> CsvTable:
    """The table in `text` (`name` says where it came from in messages); an InputError when it is not CSV, repeats a
    column, or has a row with more fields than the header. An empty text gives an empty header and no rows."""
    try:
        table = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as error:
        raise InputError(f"{name} is not a readable CSV: {error}", "save it as plain comma-separated text") from None
    records = [(number, fields) for number, fields in enumerate(table, start=1) if any(f.strip() for f in fields)]
    header = [column.strip() for column in records[0][1]] if records else []
    repeated = sorted({column for column in header if header.count(column) > 1 and column})
    if repeated:
        raise InputError(f"{name}: column(s) {', '.join(map(repr, repeated))} appear more than once", "keep one each")
    for number, fields in records[1:]:
        if len(fields) > len(header) and any(field.strip() for field in fields[len(header) :]):
            raise InputError(
                f"{name}, line {number}: {len(fields)} fields under a header of {len(header)} columns",
                "remove the extra fields, or quote a value that holds a comma",
            )
    return CsvTable(header, records[1:])
