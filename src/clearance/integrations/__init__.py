"""Adapters that read what other tools produce: documents, JUnit reports, this machine."""
