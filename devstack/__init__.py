"""Dev tooling, not in the wheel: the embedded stack, the demo, shared samples, dev commands.

`docflow demo|simulators|bench` exist only where this package is importable (a checkout).
"""
