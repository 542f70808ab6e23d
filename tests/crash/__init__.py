"""Crash-safety harness: the writer process is killed with SIGKILL mid-write."""
