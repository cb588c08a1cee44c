"""Production traffic for the demo: rows scored through the gateway with the endpoint's key at
a steady rate, every answer checked, and (when asked) each row's true label sent as feedback."""

import threading
import time
import uuid
from dataclasses import dataclass, field

import httpx
import numpy as np
import pandas as pd  # type: ignore[import-untyped]  # no type information shipped

from modelops_client.collector import CollectorClient


@dataclass
class Traffic:
    """A background sender; switch the rows it draws from with `use`."""

    gateway_url: str
    endpoint: str
    key: str
    collector: CollectorClient
    rate: float = 20.0
    sent: int = 0
    failed: list[str] = field(default_factory=list)
    _rows: tuple[pd.DataFrame, pd.Series, bool] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def use(self, x: pd.DataFrame, y: pd.Series, label: bool) -> None:
        """Draw rows from x from now on; with label, send their true labels as feedback."""
        self._rows = (x, y, label)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        rng = np.random.default_rng(7)
        headers = {"authorization": f"Bearer {self.key}"}
        url = f"/endpoints/{self.endpoint}/score"
        labels: list[dict[str, object]] = []
        with httpx.Client(base_url=self.gateway_url, headers=headers, timeout=30) as http:
            next_at = time.monotonic()
            while not self._stop.is_set():
                if self._rows is not None:
                    x, y, label = self._rows
                    i = int(rng.integers(len(x)))
                    rid = uuid.uuid4().hex
                    row = [float(v) for v in x.iloc[i]]
                    self._score(http, url, rid, row)
                    if label:
                        labels.append({"request_id": rid, "label": int(y.iloc[i])})
                if len(labels) >= 20:
                    self.collector.upload_feedback(labels, endpoint=self.endpoint)
                    labels = []
                next_at += 1 / self.rate
                self._stop.wait(max(0.0, next_at - time.monotonic()))
        if labels:
            self.collector.upload_feedback(labels, endpoint=self.endpoint)

    def _score(self, http: httpx.Client, url: str, rid: str, row: list[float]) -> None:
        try:
            resp = http.post(url, json={"data": [row]}, headers={"x-request-id": rid})
            ok = resp.status_code == 200
            detail = f"HTTP {resp.status_code} {resp.text[:200]}"
        except httpx.HTTPError as exc:
            ok, detail = False, repr(exc)
        self.sent += 1
        if not ok:
            self.failed.append(detail)
