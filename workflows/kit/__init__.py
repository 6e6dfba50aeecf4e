"""The workflow kit: small plain classes every docflow process composes (no I/O, no module
state, safe to share with the sandbox). Each block states its rules in its docstring."""
