"""Tests of the caller's side: plan files, documents, paths."""
