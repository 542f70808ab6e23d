"""`clearance demo`: a first release of a real scikit-learn model, from training to a
verified audit pack, run with the real commands. Needs the `demo` extra."""

from __future__ import annotations

from clearance.demo.story import DEFAULT_DIRECTORY, run_demo

__all__ = ["DEFAULT_DIRECTORY", "run_demo"]
