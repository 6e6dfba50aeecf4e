"""docflow benchmarks: floor vs pipeline, callbacks, scale (`python -m benchmarks`, or
`uv run docflow bench` in a checkout).

Benchmarks drive the product from above: they import `devstack` and the product's public
APIs only. See `REPORT.md` for the process layout, the method and the latest full run.
"""
