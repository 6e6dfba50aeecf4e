"""Process sampling: the worker's RSS every ~200 ms, and CPU seconds per process per phase."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator

import psutil

SAMPLE_INTERVAL_S = 0.2


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for proc in [process, *process.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            total += proc.memory_info().rss
    return total


def _cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


class ProcessMonitor:
    """Samples the worker's RSS (with its children) in a thread; CPU per named process."""

    def __init__(self, worker_pid: int, processes: dict[str, int | None]) -> None:
        self._worker = psutil.Process(worker_pid)
        self._processes = {
            name: psutil.Process(pid) for name, pid in processes.items() if pid is not None
        }
        self._processes["loadgen"] = psutil.Process(os.getpid())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)
        self._lock = threading.Lock()
        self.peak_rss = 0
        self._phase_peak = 0
        self.samples = 0
        self.cpu_by_phase: dict[str, dict[str, float]] = {}
        self.peak_rss_by_phase: dict[str, float] = {}

    def __enter__(self) -> ProcessMonitor:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(psutil.Error):
                rss = _tree_rss(self._worker)
                with self._lock:
                    self.samples += 1
                    self.peak_rss = max(self.peak_rss, rss)
                    self._phase_peak = max(self._phase_peak, rss)
            self._stop.wait(SAMPLE_INTERVAL_S)

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds so far of each process, and `other`: the machine's busy time minus them
        (anything else running on the machine while we measure)."""
        snapshot: dict[str, float] = {}
        for name, proc in self._processes.items():
            with contextlib.suppress(psutil.Error):
                snapshot[name] = _cpu_seconds(proc)
        machine = psutil.cpu_times()
        busy = machine.user + machine.nice + machine.system + machine.irq + machine.softirq
        snapshot["other"] = busy - sum(snapshot.values())
        return snapshot

    @contextlib.contextmanager
    def phase(self, name: str) -> Iterator[None]:
        """Record CPU seconds of every process and the worker's peak RSS during `name`."""
        before = self.cpu_snapshot()
        with self._lock:
            self._phase_peak = 0
        started = time.monotonic()
        try:
            yield
        finally:
            after = self.cpu_snapshot()
            wall = time.monotonic() - started
            earlier = self.cpu_by_phase.get(name, {})
            cpu = {k: round(earlier.get(k, 0.0) + after[k] - before.get(k, 0.0), 2) for k in after}
            cpu["wall_s"] = round(earlier.get("wall_s", 0.0) + wall, 2)
            self.cpu_by_phase[name] = cpu  # a phase run twice adds up
            with self._lock:
                peak = max(self._phase_peak / 2**20, self.peak_rss_by_phase.get(name, 0.0))
                self.peak_rss_by_phase[name] = round(peak, 1)

    def current_rss_mb(self) -> float:
        """The worker's RSS (with its children) right now."""
        try:
            return round(_tree_rss(self._worker) / 2**20, 1)
        except psutil.Error:
            return 0.0

    @property
    def peak_rss_mb(self) -> float:
        return round(self.peak_rss / 2**20, 1)
