"""Every launch target for every framework and mode, as a user writes it (`servecast generate --target ...`): what
was written or refused and why, the kind of each file's resource, and whether it fits its schema snapshot when read
back from disk.

Run: `uv run python benchmarks/launch_targets.py [--json]`. The deployments: a dense model aggregated over replicas
and disaggregated, an MoE model with attention data parallelism and expert parallelism, and a dense model whose
instance spans two nodes, each at the newest modelled version of each framework. A refusal is expected where a
platform cannot express the deployment (llm-d and KServe run vLLM only; compose runs on one machine; llm-d and KServe
place no multi-node workers); anything else failing is a bug.
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path
from typing import Any

import yaml
from click.testing import CliRunner

from servecast.cli import cli
from servecast.launch.manifest_schema import ManifestSchema
from servecast.launch.targets import LaunchTarget

DEPLOYMENTS = {
    "dense-agg-replicas": ["--model", "Qwen/Qwen3-32B", "--tp", "2", "--replicas", "2", "--concurrency", "64"],
    "dense-disagg": [
        *("--model", "Qwen/Qwen3-32B", "--mode", "disagg", "--prefill-tp", "2", "--prefill-workers", "2"),
        *("--decode-tp", "4", "--decode-workers", "1", "--concurrency", "128"),
    ],
    "moe-dp-ep": ["--model", "Qwen/Qwen3-30B-A3B", "--dp", "4", "--ep", "4", "--concurrency", "128"],
    "dense-two-nodes": ["--model", "Qwen/Qwen3-32B", "--tp", "8", "--pp", "2", "--concurrency", "64"],
}
SCHEMAS = {
    "compose.yaml": ("compose-spec", None),
    "dynamo.yaml": ("dynamo-graph-deployment", "DynamoGraphDeployment"),
    "llm-d-values.yaml": ("llm-d-modelservice-values", None),
    "kserve.yaml": ("kserve-llminferenceservice", "LLMInferenceService"),
}


def checked(folder: Path) -> tuple[str, int]:
    """The kinds of the target's resources and the schema problems found reading its file back."""
    for name, (snapshot, kind) in SCHEMAS.items():
        path = folder / name
        if not path.exists():
            continue
        documents = [document for document in yaml.safe_load_all(path.read_text()) if document]
        kinds = [document.get("kind", name) for document in documents]
        subject = [document for document in documents if kind is None or document.get("kind") == kind]
        problems = sum(len(ManifestSchema.shipped(snapshot).problems(document)) for document in subject)
        return "+".join(kinds), problems
    return "launch.sh" if (folder / "launch.sh").exists() else "?", 0


def run() -> list[dict[str, Any]]:
    rows = []
    runner = CliRunner()
    for deployment, flags in DEPLOYMENTS.items():
        for framework in ("vllm", "sglang", "trtllm"):
            for target in LaunchTarget:
                folder = Path(tempfile.mkdtemp()) / "out"
                arguments = ["generate", *flags, "--system", "h100_sxm", "--framework", framework]
                arguments += ["--isl", "2000", "--osl", "200", "--target", target.value, "--out", str(folder)]
                result = runner.invoke(cli, arguments)
                row: dict[str, Any] = {"deployment": deployment, "framework": framework, "target": target.value}
                if result.exit_code == 0:
                    kinds, problems = checked(folder)
                    row |= {"result": "written", "kinds": kinds, "schema_problems": problems}
                else:
                    message = (result.output.strip().splitlines() or [repr(result.exception)])[0]
                    row |= {"result": f"exit {result.exit_code}", "reason": message.removeprefix("error: ")}
                rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="Print the rows as JSON.")
    rows = run()
    if parser.parse_args().json:
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        detail = f"{row['kinds']} ({row['schema_problems']} schema problems)" if "kinds" in row else row["reason"]
        print(f"{row['deployment']:<20} {row['framework']:<7} {row['target']:<8} {row['result']:<8} {detail[:110]}")
    written = sum(row["result"] == "written" for row in rows)
    problems = sum(row.get("schema_problems", 0) for row in rows)
    print(f"{written} of {len(rows)} written, {problems} schema problems in what was written")


if __name__ == "__main__":
    main()
