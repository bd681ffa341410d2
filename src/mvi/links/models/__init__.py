"""What a link service declares, without I/O: its config and connection models (seed 004),
the typed messages they become, the connection kinds, and the addresses and config it is
started with."""
