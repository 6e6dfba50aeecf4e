"""docflow benchmarks: floor vs pipeline, callbacks, scale (`uv run docflow bench`).

See `REPORT.md` for the process layout, the method and the latest full run's figures.
"""
