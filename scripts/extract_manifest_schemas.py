"""Extract the schemas the container targets' files are validated against, from the projects' repositories, into the
committed snapshots under core/servecast/launch/schemas/.

Each recipe names a repository, a commit and a file: the compose specification's JSON schema, a CustomResourceDefinition
whose `openAPIV3Schema` of one served version is taken, or a Helm chart's values schema. Descriptions are dropped
(they change no validation); the snapshot records the repository, path, ref, commit and the sha256 of the file as
published. The repositories are read from local git directories (`--git-dir owner/name=PATH`, a bare clone or a
work tree) or, without one, cloned from GitHub into the cache folder.

    uv run python scripts/extract_manifest_schemas.py                      # every snapshot
    uv run python scripts/extract_manifest_schemas.py --only compose-spec
    uv run python scripts/extract_manifest_schemas.py --check              # snapshots up to date (no writes)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from servecast.launch.manifest_schema import ManifestSchema, SnapshotSource, without_descriptions

ROOT = Path(__file__).resolve().parent.parent
SNAPSHOTS = ROOT / "core" / "servecast" / "launch" / "schemas"
CACHE = Path.home() / ".cache" / "servecast-schema-sources"


def json_schema(text: bytes) -> Any:
    return json.loads(text)


def crd_version(served: str) -> Callable[[bytes], Any]:
    """The `openAPIV3Schema` of the CRD version named `served` (a CRD YAML file)."""

    def select(text: bytes) -> Any:
        crd = yaml.safe_load(text)
        for version in crd["spec"]["versions"]:
            if version["name"] == served:
                if not version.get("served"):
                    raise SystemExit(f"CRD version {served} is not served")
                return version["schema"]["openAPIV3Schema"]
        raise SystemExit(f"CRD has no version {served}")

    return select


@dataclass(frozen=True)
class Recipe:
    """One snapshot: where its file is published and what is taken from it."""

    repository: str
    path: str
    ref: str
    version: str
    select: Callable[[bytes], Any]
    closed: bool
    api_version: str | None = None
    kind: str | None = None
    mirror: str | None = None
    """Another repository holding the same commit (a fork), read when the project's own is not given."""


RECIPES = {
    "compose-spec": Recipe(
        repository="compose-spec/compose-spec",
        path="schema/compose-spec.json",
        ref="a08f8d51631b7127ddac3d2c65537db429d0f1d0",
        version="2025-10-21",
        select=json_schema,
        closed=False,  # the specification closes its objects itself and allows x- extensions
    ),
    "dynamo-graph-deployment": Recipe(
        repository="ai-dynamo/dynamo",
        path="deploy/operator/config/crd/bases/nvidia.com_dynamographdeployments.yaml",
        ref="3381935db454dcd286aeaf76e101969b30fbd624",
        version="1.4.0 branch point (main 2026-07-30)",
        select=crd_version("v1alpha1"),
        closed=True,
        api_version="nvidia.com/v1alpha1",
        kind="DynamoGraphDeployment",
        mirror="wxsms/dynamo",
    ),
    "kserve-llminferenceservice": Recipe(
        repository="kserve/kserve",
        path="config/crd/full/llmisvc/serving.kserve.io_llminferenceservices.yaml",
        ref="v0.20.0",
        version="0.20.0",
        select=crd_version("v1alpha1"),
        closed=True,
        api_version="serving.kserve.io/v1alpha1",
        kind="LLMInferenceService",
    ),
    "llm-d-modelservice-values": Recipe(
        repository="llm-d-incubation/llm-d-modelservice",
        path="charts/llm-d-modelservice/values.schema.json",
        ref="llm-d-modelservice-v0.4.12",
        version="0.4.12",
        select=json_schema,
        closed=True,
    ),
}


def git_dir(repository: str, given: dict[str, Path]) -> Path:
    """A local git directory holding `repository`: the one given, else a blobless bare clone in the cache."""
    if repository in given:
        return given[repository]
    clone = CACHE / repository.replace("/", "+")
    if not clone.exists():
        clone.parent.mkdir(parents=True, exist_ok=True)
        url = f"https://github.com/{repository}.git"
        subprocess.run(["git", "clone", "--quiet", "--bare", "--filter=blob:none", url, str(clone)], check=True)
    return clone


def git(directory: Path, *arguments: str) -> bytes:
    return subprocess.run(
        ["git", f"--git-dir={_git_folder(directory)}", *arguments], check=True, capture_output=True
    ).stdout


def _git_folder(directory: Path) -> Path:
    return directory / ".git" if (directory / ".git").exists() else directory


def snapshot(name: str, recipe: Recipe, given: dict[str, Path]) -> ManifestSchema:
    """The snapshot `recipe` describes, read from its repository (or the fork mirroring its commit)."""
    repository = recipe.repository
    if repository not in given and recipe.mirror in given:
        repository = recipe.mirror
    directory = git_dir(repository, given)
    commit = git(directory, "rev-parse", f"{recipe.ref}^{{commit}}").decode().strip()
    text = git(directory, "show", f"{commit}:{recipe.path}")
    source = SnapshotSource(
        repository=recipe.repository,
        path=recipe.path,
        ref=recipe.ref,
        commit=commit,
        sha256=hashlib.sha256(text).hexdigest(),
    )
    return ManifestSchema(
        name=name,
        version=recipe.version,
        source=source,
        api_version=recipe.api_version,
        kind=recipe.kind,
        closed=recipe.closed,
        body=without_descriptions(recipe.select(text)),
    )


def snapshot_text(schema: ManifestSchema) -> str:
    return schema.model_dump_json(indent=None) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(RECIPES), action="append", help="Extract only these snapshots.")
    parser.add_argument("--git-dir", action="append", default=[], metavar="OWNER/NAME=PATH", help="A local clone.")
    parser.add_argument("--check", action="store_true", help="Fail if a committed snapshot differs; write nothing.")
    arguments = parser.parse_args()
    given = {}
    for item in arguments.git_dir:
        repository, _, path = item.partition("=")
        given[repository] = Path(path)
    stale = []
    for name in arguments.only or sorted(RECIPES):
        text = snapshot_text(snapshot(name, RECIPES[name], given))
        target = SNAPSHOTS / f"{name}.json"
        if arguments.check:
            if not target.exists() or target.read_text() != text:
                stale.append(name)
            continue
        target.write_text(text)
        print(f"wrote {target.relative_to(ROOT)} ({len(text) // 1024} KiB)")
    if stale:
        print(f"out of date: {', '.join(stale)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
