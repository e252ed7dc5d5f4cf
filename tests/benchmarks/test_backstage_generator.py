"""The benchmark's own copy of the Backstage catalog generator: deterministic, and writing what
the comparison's shared original writes (checked where ../shared is present, skipped otherwise)."""

import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.config import ROOT, default_backstage_generator

SHARED = ROOT.parent / "shared" / "benchmarks" / "backstage_catalog_gen.py"
SMALL = ["--components", "300", "--groups", "12", "--systems", "20", "--per-file", "100"]


def generate(generator: Path, out: Path) -> dict[str, bytes]:
    subprocess.run([sys.executable, str(generator), str(out), *SMALL], check=True, timeout=60)
    # Paths inside the files name `out`: compare the files as written into the same folder name.
    return {path.name: path.read_bytes() for path in sorted(out.iterdir())}


def test_the_benchmarks_generator_is_its_own_and_writes_the_same_catalog_twice(tmp_path):
    generator = default_backstage_generator()
    assert generator.is_relative_to(ROOT) and generator.is_file()
    first = generate(generator, tmp_path / "a" / "catalog")
    second = generate(generator, tmp_path / "b" / "catalog")
    components = b"".join(v for k, v in first.items() if k.startswith("components-"))
    assert components.count(b"kind: Component") == 300
    assert {k: v for k, v in first.items() if k.endswith(".yaml") and "locations" not in k} == {
        k: v for k, v in second.items() if k.endswith(".yaml") and "locations" not in k
    }


@pytest.mark.skipif(not SHARED.is_file(), reason="the shared original is not beside this clone")
def test_the_copy_writes_byte_for_byte_what_the_shared_original_writes(tmp_path):
    ours = generate(default_backstage_generator(), tmp_path / "ours" / "catalog")
    theirs = generate(SHARED, tmp_path / "theirs" / "catalog")
    assert ours.keys() == theirs.keys()
    for name in ours:
        assert ours[name].replace(b"/ours/", b"/X/") == theirs[name].replace(b"/theirs/", b"/X/")
