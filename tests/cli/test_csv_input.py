"""CSV inputs: Excel's byte-order mark is read, and a file that cannot mean one thing is refused, naming the line."""

from __future__ import annotations

import json

from click.testing import CliRunner

from servecast.cli import cli

HEADER = "model,system,framework,isl,osl,concurrency"
ROW = "Qwen/Qwen3-8B,h100_sxm,vllm,1000,100,8"


def estimate_batch(tmp_path, data: bytes):
    path = tmp_path / "configs.csv"
    path.write_bytes(data)
    return CliRunner().invoke(cli, ["estimate", "--input", str(path), "--json"])


def test_a_utf8_byte_order_mark_is_skipped(tmp_path):
    result = estimate_batch(tmp_path, b"\xef\xbb\xbf" + f"{HEADER}\n{ROW}\n".encode())
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)[0]["ttft_ms"] > 0


def test_a_repeated_column_is_refused(tmp_path):
    result = estimate_batch(tmp_path, f"{HEADER},isl\n{ROW},2000\n".encode())
    assert result.exit_code == 2
    assert "column(s) 'isl' appear more than once" in result.output


def test_a_row_with_more_fields_than_the_header_is_refused_naming_its_line(tmp_path):
    result = estimate_batch(tmp_path, f"{HEADER}\n{ROW}\n{ROW},99,100\n".encode())
    assert result.exit_code == 2
    assert "line 3: 8 fields under a header of 6 columns" in result.output


def test_two_rows_with_one_id_are_refused(tmp_path):
    result = estimate_batch(tmp_path, f"id,{HEADER}\na,{ROW}\na,{ROW}\n".encode())
    assert result.exit_code == 2
    assert "id(s) 'a' name more than one row" in result.output


def test_a_file_that_is_not_utf8_is_refused_naming_the_line(tmp_path):
    result = estimate_batch(tmp_path, f"{HEADER}\n".encode() + b"Qwen/Qwen3-8B,h100_sxm,vll\xe9m,1000,100,8\n")
    assert result.exit_code == 2
    assert "is not UTF-8 text: byte b'\\xe9' on line 2" in result.output
    assert "Traceback" not in result.output


def test_a_header_without_rows_is_refused(tmp_path):
    result = estimate_batch(tmp_path, f"{HEADER}\n".encode())
    assert result.exit_code == 2
    assert "no rows under the header" in result.output
