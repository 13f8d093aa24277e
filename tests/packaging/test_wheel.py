"""The installed shape: `pip install .` adds one top-level package, `mvflow`, holding every source file.

The repository keeps the folders the project's design asks for (tasks/, flows/, templates/);
pyproject.toml maps them into `mvflow` (package-dir). This builds the real wheel and reads it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: repository folder -> where its files land in the wheel
MAPPING = {"flows/cli": "mvflow/cli", "flows": "mvflow/flows", "templates": "mvflow/templates", "tasks": "mvflow"}
DATA = ("*.toml", "*.txt", "*.yaml", "*.json")


def wheel_path(source: Path) -> str:
    relative = source.relative_to(ROOT).as_posix()
    for folder, package in MAPPING.items():
        if relative.startswith(folder + "/"):
            return package + relative[len(folder):]
    raise AssertionError(relative)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> zipfile.ZipFile:
    """The wheel built from a copy of the project (setuptools writes build/ into the source folder)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("wheel")
    for name in ("pyproject.toml", "README.md", "tasks", "flows", "templates"):
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, source / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                            if (ROOT / name).is_dir() else {}))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(source)],
                   check=True, timeout=600)
    (built,) = out.glob("mvflow-*.whl")
    return zipfile.ZipFile(built)


def test_the_wheel_has_one_top_level_package(wheel):
    tops = {name.split("/")[0] for name in wheel.namelist()}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"mvflow"}
    top_level = next(n for n in wheel.namelist() if n.endswith(".dist-info/top_level.txt"))
    assert wheel.read(top_level).decode().split() == ["mvflow"]


def test_every_source_and_template_file_is_in_the_wheel(wheel):
    names = set(wheel.namelist())
    sources = [p for folder in ("tasks", "flows", "templates") for p in (ROOT / folder).rglob("*")
               if p.is_file() and "__pycache__" not in p.parts
               and (p.suffix == ".py" or any(p.match(pattern) for pattern in DATA))]
    assert len(sources) > 100
    missing = sorted(wheel_path(p) for p in sources if wheel_path(p) not in names)
    assert not missing, f"add their packages to [tool.setuptools] packages / package-data: {missing}"


def test_the_console_script_points_into_the_package(wheel):
    entry_points = next(n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt"))
    assert "mvflow = mvflow.cli:main" in wheel.read(entry_points).decode()
