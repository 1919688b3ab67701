"""Analyses: functions over a Graph that compute facts without changing it (cached by the
PassManager through ``PassContext.analysis``)."""
