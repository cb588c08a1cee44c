"""The server as a real process: uvicorn workers, SIGTERM finishes in-flight requests."""

import json
import signal
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from conftest import StartServer


def test_two_workers_serve_and_count(iris_dir: Path, start_server: "StartServer") -> None:
    proc, url = start_server(iris_dir, "--workers", "2")
    try:
        with httpx.Client(base_url=url) as http:
            codes = {
                http.post("/score", json={"data": [[5.1, 3.5, 1.4, 0.2]]}).status_code
                for _ in range(20)
            }
            metrics = http.get("/metrics").text
        assert codes == {200}
        assert "modelserver_request_duration_seconds_bucket" in metrics
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) in (0, -signal.SIGTERM)  # the supervisor stops its workers


def test_sigterm_finishes_in_flight_requests(tmp_path: Path, start_server: "StartServer") -> None:
    script = "import time\ndef run(data):\n    time.sleep(1.0)\n    return {'slept': data}\n"
    (tmp_path / "score.py").write_text(script)
    (tmp_path / "modelserver.json").write_text(
        json.dumps({"name": "slow", "entry_script": "score.py"})
    )
    proc, url = start_server(tmp_path)
    result: dict[str, Any] = {}

    def call() -> None:
        result["response"] = httpx.post(f"{url}/score", json={"data": 7}, timeout=10)

    caller = threading.Thread(target=call)
    caller.start()
    time.sleep(0.3)  # the request is inside run() now
    proc.send_signal(signal.SIGTERM)
    caller.join(10)
    # uvicorn re-raises the signal once shut down, so the exit status says "SIGTERM".
    assert proc.wait(30) in (0, -signal.SIGTERM)
    assert result["response"].status_code == 200
    assert result["response"].json() == {"slept": 7}
