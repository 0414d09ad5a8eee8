"""Fixture builds of both recipe kinds, made with the `pipeline` binary, and the CLI whose
output the package must reproduce.

The binary is EARLYBERTS_PIPELINE, else target/debug/pipeline, else
target/release/pipeline (`make test-python` builds it first)."""

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def built_binary(name):
    """The workspace's `name` binary: $EARLYBERTS_<NAME>, else the debug or release build;
    `(None, the places looked at)` when there is none."""
    given = os.environ.get(f"EARLYBERTS_{name.upper()}")
    candidates = [Path(given)] if given else [REPO / "target/debug" / name,
                                              REPO / "target/release" / name]
    return next((p for p in candidates if p.is_file()), None), candidates


def pipeline_binary():
    path, candidates = built_binary("pipeline")
    if path is None:
        pytest.exit(f"no pipeline binary at {candidates}: run `cargo build -p earlyberts-pipeline` "
                    "or set EARLYBERTS_PIPELINE", returncode=2)
    return path


class Cli:
    """`pipeline` run as a user runs it."""

    def __init__(self, binary):
        self.binary = binary

    def run(self, *args, check=True):
        out = subprocess.run([str(self.binary), *map(str, args)], capture_output=True, text=True)
        if check and out.returncode != 0:
            raise AssertionError(f"pipeline {args} exited {out.returncode}: {out.stderr}")
        return out

    def jsonl(self, *args):
        return [json.loads(line) for line in self.run(*args).stdout.splitlines() if line]


@pytest.fixture(scope="session")
def cli():
    return Cli(pipeline_binary())


@pytest.fixture(scope="session")
def builds(cli, tmp_path_factory):
    """The sample corpus built with the keyed recipe (from the corpus's parquet) and the
    reference recipe (from spaCy's sentence rows), seed 1, and a copy to damage."""
    root = tmp_path_factory.mktemp("builds")
    cli.run("fixture", "--corpus", REPO / "tests/fixtures/corpus", "--out", root / "in")
    books = root / "in/bookcorpus/bookcorpus.tar.bz2"
    cli.run("build", "-q", "--recipe", REPO / "manifests/recipes/earlyberts-keyed.toml",
            "--seed", 1, "--out", root / "keyed", "--wiki", root / "in/wikipedia/*.parquet",
            "--books", books)
    cli.run("build", "-q", "--recipe", REPO / "manifests/recipes/earlyberts.toml",
            "--seed", 1, "--out", root / "reference", "--sentences",
            REPO / "tests/fixtures/reference/sample/spacy-wiki-sentences.csv", "--books", books)
    return {"keyed": root / "keyed", "reference": root / "reference", "root": root}


@pytest.fixture(params=["keyed", "reference"])
def kind(request):
    return request.param


@pytest.fixture
def damaged(builds, tmp_path):
    """A copy of the keyed build with one byte of its first shard flipped."""
    copy = tmp_path / "damaged"
    shutil.copytree(builds["keyed"], copy)
    shard = sorted((copy / "shards").iterdir())[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x40
    shard.write_bytes(bytes(data))
    return copy
