"""Each reusable library installs alone, in a fresh virtual environment, and imports nothing of the application.

The libraries are built from the source tree as wheels and installed with their declared dependencies
(from the package index, as a user would) into one new venv per library. Inside it every module of the
library is imported, and the test fails if any other ``qcchain_*`` package is importable or was imported.
Skipped with a reason when the package index cannot be reached.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

# library -> (the source dirs whose wheels make it up, in dependency order; the packages it may contain)
LIBRARIES = {
    "qcchain_core": (["core"], {"qcchain_core"}),
    "qcchain_shim": (["core", "chaincode/shim"], {"qcchain_core", "qcchain_shim"}),
    "qcchain_gateway": (["core", "sdk/gateway"], {"qcchain_core", "qcchain_gateway"}),
}

PROBE = r'''
import importlib, pkgutil, sys
lib, allowed = sys.argv[1], set(sys.argv[2].split(","))
package = importlib.import_module(lib)
for info in pkgutil.walk_packages(package.__path__, lib + "."):
    importlib.import_module(info.name)
loaded = sorted({m.split(".")[0] for m in sys.modules if m.startswith("qcchain")} - allowed)
present = sorted(m.name for m in pkgutil.iter_modules() if m.name.startswith("qcchain") and m.name not in allowed)
if loaded or present:
    sys.exit(f"{lib}: imported {loaded}, installed {present}")
print("ok", lib)
'''


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    sources = tmp_path_factory.mktemp("sources")
    dirs = sorted({d for srcs, _ in LIBRARIES.values() for d in srcs})
    copies = []
    for d in dirs:  # build from a copy: setuptools writes build/ and *.egg-info beside the sources
        copy = sources / d.replace("/", "_")
        shutil.copytree(ROOT / d, copy, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
        copies.append(str(copy))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--disable-pip-version-check",
                    "-w", str(out), *copies], check=True, capture_output=True, timeout=300)
    return out


def _wheel(wheels: Path, src: str) -> Path:
    name = {"core": "qcchain_core", "chaincode/shim": "qcchain_shim", "sdk/gateway": "qcchain_gateway"}[src]
    (found,) = wheels.glob(f"{name}-*.whl")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("library", sorted(LIBRARIES))
def test_library_installs_alone_and_imports_nothing_of_the_application(
        library: str, wheels: Path, tmp_path: Path) -> None:
    srcs, allowed = LIBRARIES[library]
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    python = env_dir / "bin" / "python"
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # as scripts/_bootstrap.sh does: the pip that ensurepip bundles (23.x) does not take the pre-release
    # builds that are the only ones of hyperledger-fabric-protos on the index for ">=0.3.0"
    subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check", "--upgrade", "pip"],
                   capture_output=True, text=True, timeout=300, env=clean_env)
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         *[str(_wheel(wheels, s)) for s in srcs]],
        capture_output=True, text=True, timeout=600, env=clean_env)
    if install.returncode != 0 and ("Could not find a version" in install.stderr or "NewConnectionError" in install.stderr
                                    or "Network is unreachable" in install.stderr):
        pytest.skip(f"the package index is not reachable to install {library}'s dependencies: "
                    f"{install.stderr.strip().splitlines()[-1]}")
    assert install.returncode == 0, install.stderr
    probe = subprocess.run([str(python), "-c", PROBE, library, ",".join(sorted(allowed))],
                           capture_output=True, text=True, timeout=120, env=clean_env, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr + probe.stdout
    assert probe.stdout.strip() == f"ok {library}"
