"""`make`'s torch step (.ci/install-torch): the CPU-only build where no GPU is present, the
default index when the CPU index cannot be reached, the default (CUDA) build with a GPU.

pip is replaced by a stand-in that records its arguments (nothing is installed); the
reachability check runs for real against a local HTTP server or a closed port."""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "install-torch"
CONSTRAINTS = ROOT / "constraints.txt"


def _pins() -> list[str]:
    return [
        line.strip()
        for line in CONSTRAINTS.read_text().splitlines()
        if line.startswith(("torch==", "torchvision=="))
    ]


@pytest.fixture
def fake(tmp_path):
    """A PATH without nvidia-smi, and a python whose `-m pip` only records its arguments."""
    if any(Path(d, "nvidia-smi").exists() for d in ("/usr/bin", "/bin")):
        pytest.skip("nvidia-smi is installed system-wide here")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "pip.log"
    python = bin_dir / "python"
    python.write_text(
        "#!/bin/bash\n"
        f'if [ "$1" = "-m" ] && [ "$2" = pip ]; then shift 2; echo "$*" >> {log}; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    python.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "HOME": str(tmp_path), "LANG": "C.UTF-8"}
    return python, log, env, bin_dir


def _run(python: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(SCRIPT), str(python), str(CONSTRAINTS)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the block ends


def test_unreachable_cpu_index_falls_back_to_the_default_index(fake):
    python, log, env, _ = fake
    env["TORCH_CPU_INDEX"] = f"http://127.0.0.1:{_closed_port()}/whl/cpu"
    done = _run(python, env)
    assert done.returncode == 0, done.stderr
    assert "unreachable" in done.stdout and "WARNING" in done.stdout
    (call,) = log.read_text().splitlines()
    assert call.split() == ["install", "-q", *_pins(), "-c", str(CONSTRAINTS)]
    assert "--index-url" not in call


def test_reachable_cpu_index_is_used_when_there_is_no_gpu(fake, tmp_path):
    python, log, env, _ = fake
    site = tmp_path / "site"
    (site / "whl" / "cpu" / "torch").mkdir(parents=True)
    (site / "whl" / "cpu" / "torch" / "index.html").write_text("<html></html>")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(site))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        index = f"http://127.0.0.1:{server.server_address[1]}/whl/cpu"
        env["TORCH_CPU_INDEX"] = index
        done = _run(python, env)
    finally:
        server.shutdown()
        server.server_close()
    assert done.returncode == 0, done.stderr
    assert "CPU-only" in done.stdout and "WARNING" not in done.stdout
    (call,) = log.read_text().splitlines()
    assert call.split() == ["install", "-q", *_pins(), "--index-url", index, "-c", str(CONSTRAINTS)]


def test_a_gpu_gets_the_default_build_without_asking_the_cpu_index(fake):
    python, log, env, bin_dir = fake
    smi = bin_dir / "nvidia-smi"
    smi.write_text("#!/bin/sh\nexit 0\n")
    smi.chmod(0o755)
    env["TORCH_CPU_INDEX"] = f"http://127.0.0.1:{_closed_port()}/never-asked"
    done = _run(python, env)
    assert done.returncode == 0, done.stderr
    assert "GPU is present" in done.stdout and "unreachable" not in done.stdout
    (call,) = log.read_text().splitlines()
    assert "--index-url" not in call and all(pin in call.split() for pin in _pins())


def test_the_makefile_installs_torch_before_the_lab():
    recipe = (ROOT / "Makefile").read_text()
    torch_step = recipe.index(".ci/install-torch $(PY) constraints.txt")
    assert torch_step < recipe.index("pip install -q -e '.[dev]' -c constraints.txt")
    assert os.access(SCRIPT, os.X_OK) and shutil.which("bash")
