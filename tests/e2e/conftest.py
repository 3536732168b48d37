def pytest_configure(config):
    config.addinivalue_line(
        "markers", "e2e: real-browser end-to-end test (Dagster UI and the report in headless Chromium)")
