"""Checks across vendors of one environment: does what a configuration bundle names exist in
the environment's live systems (`live_checks.check_live`)."""
