"""Schemathesis (pinned) over Keyward's whole `/openapi.json`, native and dialect routes, with an
admin credential: examples, coverage, fuzzing and stateful phases; every check. It must find no
server error and no answer that contradicts the document.

The server it fuzzes has the failed-authentication limiter raised out of reach: the fuzzer sends
thousands of bad credentials from one address, and the limiter (tested in Rust and in
`test_*` suites here) would rightly answer them 429, which is not what this run is about.

`KEYWARD_FUZZ_API_EXAMPLES` sets the examples per operation (default 10, as in CI);
`cargo xtask fuzz-api` runs it with 100 and writes schemathesis's summary to the file named by
`KEYWARD_FUZZ_API_REPORT`.
"""

import os
import subprocess
import sys
from pathlib import Path

from conftest import running_server


def test_schemathesis_finds_nothing(tmp_path_factory):
    examples = os.environ.get("KEYWARD_FUZZ_API_EXAMPLES", "10")
    limits = {"KEYWARD_AUTH_FAILURES_FREE": "1000000", "KEYWARD_AUTH_FAILURES_MAX": "1000000"}
    here = Path(__file__).parent
    report = tmp_path_factory.mktemp("schemathesis")
    with running_server(tmp_path_factory.mktemp("fuzz-data"), limits) as server:
        cli = Path(sys.executable).parent / "st"
        done = subprocess.run(
            [
                str(cli),
                "--config-file",
                str(here / "schemathesis.toml"),
                "run",
                f"{server.base}/openapi.json",
                "--header",
                f"Authorization: Bearer {server.admin}",
                "--max-examples",
                examples,
                "--seed",
                os.environ.get("KEYWARD_FUZZ_API_SEED", "20261130"),
                "--no-color",
                "--report",
                "junit",
                "--report-dir",
                str(report),
            ],
            capture_output=True,
            text=True,
            timeout=3600,
            env=dict(os.environ, SCHEMATHESIS_TELEMETRY="false"),
        )
    summary = done.stdout[done.stdout.find("=== SUMMARY ===") :] if "=== SUMMARY ===" in done.stdout else done.stdout[-4000:]
    print(summary)
    if os.environ.get("KEYWARD_FUZZ_API_REPORT"):
        Path(os.environ["KEYWARD_FUZZ_API_REPORT"]).write_text(summary)
    assert done.returncode == 0, f"schemathesis found problems:\n{done.stdout[-30000:]}\n{done.stderr[-5000:]}"
