"""Exports: the audit pack (and later reports, OSCAL, attestations)."""
