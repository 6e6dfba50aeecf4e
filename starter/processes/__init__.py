"""Python helpers that drive docflow's processes on Temporal: one module per process."""
