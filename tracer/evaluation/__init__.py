"""Measuring tracing: NTREX protocols, real cases, calibration, curves. Sits above ``index``."""
