"""docflow's processes: one workflow module per process, its story composed from the kit
(`kit/`). Nothing is imported here: the sandbox imports a process's module (and so this
package) for every run, and a registry here would load every other process with it.
`worker.py` holds the registry of what a worker runs."""
