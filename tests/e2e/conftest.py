"""The site every browser test visits: the session's `make warehouse` (tests/conftest.py), then `make ui`, as a
person would run them."""
import os
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from fact22_assets.settings import REPO_ROOT

from ..conftest import free_port


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: real-browser end-to-end test (Dagster UI and the report in headless Chromium)")


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
def site(built_site, tmp_path_factory):
    """The session's build (`make warehouse` into a temporary site, tests/conftest.py: its links name the port
    its outputs are served on), with the Dagster instance holding the run that built it, and `make ui` serving
    both (the UI and the published outputs) on that port and a free one, as a person would run them."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACT22_", "DAGSTER_", "MAKE"))}
    env |= built_site.env()
    ui_port, outputs_port = free_port(), built_site.outputs_port
    ports = [f"UI_PORT={ui_port}", f"OUTPUTS_PORT={outputs_port}"]
    log = tmp_path_factory.mktemp("e2e") / "ui.log"
    with open(log, "w") as out:
        # Its own process group: stopping it stops the UI, the daemon, the code server and the outputs server.
        ui = subprocess.Popen(["make", "--no-print-directory", "ui", *ports], cwd=REPO_ROOT, env=env, stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True)
    url, outputs_url = f"http://127.0.0.1:{ui_port}", f"http://127.0.0.1:{outputs_port}"
    try:
        _wait_for(f"{url}/server_info", ui, log)
        _wait_for(f"{outputs_url}/", ui, log)
        yield {"url": url, "outputs_url": outputs_url, "outputs": built_site.warehouse.parent / "outputs", "log": log,
               "build": built_site, "warehouse": built_site.warehouse, "home": built_site.dagster_home}
    finally:
        _stop(ui)
