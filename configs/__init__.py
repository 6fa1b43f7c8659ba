"""Shipped configuration files (installed as ``tracer.configs``): sources.toml, tracer.toml."""
