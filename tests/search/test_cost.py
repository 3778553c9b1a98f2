"""Cost: every point's dollars per million tokens at the system's price per GPU-hour (its public default or the
user's), prices checked like any input, and the objective that picks the winner."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from servecast.cli import cli
from servecast.errors import InputError
from servecast.search.prices import check_systems, parse_gpu_prices

SEARCH = [
    *("search", "--model", "Qwen/Qwen3-8B", "--system", "h100_sxm", "--gpus", "8", "--isl", "2000", "--osl", "200"),
    *("--frameworks", "vllm", "--ttft", "1000", "--tpot", "30", "--json"),
]
H100_DEFAULT = 6.88
"""h100_sxm's default: AWS p5.48xlarge on demand, $55.04/h over 8 GPUs."""


def search(*extra: str) -> dict:
    outcome = CliRunner().invoke(cli, [*SEARCH, *extra])
    assert outcome.exit_code == 0, outcome.output
    return json.loads(outcome.stdout)


def expected_cost(row: dict, price: float) -> float:
    return price * 1e6 / 3600 / row["tokens_per_s_per_gpu"]


@pytest.fixture(scope="module")
def default_priced() -> dict:
    return search()


def test_every_reported_point_carries_its_cost_at_the_default_price(default_priced):
    rows = [*default_priced["best"], *default_priced["top"], *default_priced["pareto"]]
    assert rows
    for row in rows:
        assert row["gpu_hour_usd"] == H100_DEFAULT
        assert row["usd_per_million_output_tokens"] == pytest.approx(expected_cost(row, H100_DEFAULT))
        assert row["usd_per_million_input_tokens"] == pytest.approx(expected_cost(row, H100_DEFAULT) * 200 / 2000)


def test_a_given_price_replaces_the_default(default_priced):
    cheaper = search("--gpu-price", "h100_sxm=2.5")
    winner, before = cheaper["best"][0], default_priced["best"][0]
    assert winner["usd_per_million_output_tokens"] == pytest.approx(expected_cost(winner, 2.5))
    assert winner["tokens_per_s_per_gpu"] == before["tokens_per_s_per_gpu"]


def test_at_one_price_the_cost_objective_picks_what_throughput_picks(default_priced):
    by_cost = search("--objective", "cost")
    assert by_cost["best"][0] == default_priced["best"][0]


def test_the_latency_objective_picks_the_most_tokens_per_user_within_the_sla(default_priced):
    fastest = search("--objective", "latency")["best"][0]
    by_throughput = default_priced["best"][0]
    assert fastest["tokens_per_s_per_user"] >= by_throughput["tokens_per_s_per_user"]
    assert fastest["tpot_ms"] <= 30 and fastest["ttft_ms"] <= 1000


def test_the_saved_points_carry_their_cost(tmp_path):
    CliRunner().invoke(cli, [*SEARCH[:-1], "--save-dir", str(tmp_path)])
    points = pd.read_csv(tmp_path / "points.csv")
    expected = H100_DEFAULT * 1e6 / 3600 / points["tokens_per_s_per_gpu"]
    assert np.allclose(points["usd_per_million_output_tokens"], expected, equal_nan=True)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--gpu-price", "h100=2.5"], "no system named 'h100' to price"),
        (["--gpu-price", "h100_sxm=-1"], "is no positive number"),
        (["--gpu-price", "h100_sxm=free"], "is no positive number"),
        (["--gpu-price", "h100_sxm"], "is not SYSTEM=USD"),
    ],
)
def test_a_bad_price_is_refused_quoting_it(arguments, message):
    outcome = CliRunner().invoke(cli, [*SEARCH, *arguments])
    assert outcome.exit_code == 2 and message in outcome.output and "Traceback" not in outcome.output


def test_the_cost_objective_on_a_system_without_a_price_asks_for_one():
    arguments = [item if item != "h100_sxm" else "h100_pcie" for item in SEARCH]
    outcome = CliRunner().invoke(cli, [*arguments, "--objective", "cost"])
    assert outcome.exit_code == 2 and "--gpu-price h100_pcie=" in outcome.output


def test_a_price_file_is_read_and_the_options_win_over_it(tmp_path: Path):
    prices = tmp_path / "prices.toml"
    prices.write_text("h100_sxm = 3.0\nh200_sxm = 4.0\n")
    assert parse_gpu_prices(["h100_sxm=2.0"], prices) == {"h100_sxm": 2.0, "h200_sxm": 4.0}
    prices.write_text("h100_sxm = 'cheap'\n")
    with pytest.raises(InputError, match="'cheap' is no positive number"):
        parse_gpu_prices([], prices)
    prices.write_text("h100_sxm = \n")
    with pytest.raises(InputError, match="cannot be read"):
        parse_gpu_prices([], prices)
    with pytest.raises(InputError, match="no system named 'b9000'"):
        check_systems({"b9000": 1.0}, ["h100_sxm"])
