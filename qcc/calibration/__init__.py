"""Calibration: streaming sample sources and the observers that turn activations into ranges."""
