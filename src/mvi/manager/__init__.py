"""The manager: the control plane that builds, starts, supervises and routes to service versions."""
