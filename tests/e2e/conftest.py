"""The site every browser test visits: a fresh `make warehouse`, then `make ui`, as a person would run them."""
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from fact22_assets.settings import REPO_ROOT


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: real-browser end-to-end test (Dagster UI and the report in headless Chromium)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(url: str, process: subprocess.Popen, log, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"make ui exited ({process.returncode}):\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"nothing answered on {url}:\n{log.read_text()[-3000:]}")


def _stop(process: subprocess.Popen) -> None:
    """`make ui` and everything it started (the UI, the daemon, the code server, the outputs server)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        pass
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()


@pytest.fixture(scope="session")
def site(tmp_path_factory):
    """A warehouse built by `make warehouse` into a temporary folder, with the Dagster instance holding the
    run that built it, and `make ui` serving both (the UI and the published outputs) on free local ports."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    root = tmp_path_factory.mktemp("e2e")
    home, landing = root / "dagster_home", root / "landing"
    home.mkdir()
    landing.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    warehouse = root / "warehouse" / "fact22.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACT22_", "DAGSTER_", "MAKE"))}
    env |= {"DAGSTER_HOME": str(home), "FACT22_WAREHOUSE": str(warehouse), "FACT22_LANDING_DIR": str(landing),
            "GX_ANALYTICS_ENABLED": "False"}
    ui_port, outputs_port = _free_port(), _free_port()
    ports = [f"UI_PORT={ui_port}", f"OUTPUTS_PORT={outputs_port}"]
    # The links the build writes into the UI point where `make ui` serves the outputs: the same OUTPUTS_PORT.
    build = subprocess.run(["make", "--no-print-directory", "warehouse", *ports], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stdout[-2000:] + build.stderr[-4000:]
    (root / "build_terminal.txt").write_text(build.stdout + build.stderr)

    log = root / "ui.log"
    with open(log, "w") as out:
        # Its own process group: stopping it stops the UI, the daemon, the code server and the outputs server.
        ui = subprocess.Popen(["make", "--no-print-directory", "ui", *ports], cwd=REPO_ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True)
    url, outputs_url = f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{outputs_port}"
    try:
        _wait_for(f"{url}/server_info", ui, log)
        _wait_for(f"{outputs_url}/", ui, log)
        yield {"url": url, "outputs_url": outputs_url, "outputs": warehouse.parent / "outputs", "log": log,
               "build": build, "warehouse": warehouse, "home": home}
    finally:
        _stop(ui)
