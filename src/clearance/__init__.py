"""Clearance: deployment plans as code, a release gate that decides from evidence, sign-offs
bound to what they approve, and a record an auditor can verify offline."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "ClearanceError",
    "ConflictError",
    "EvidenceError",
    "ForbiddenError",
    "IntegrityError",
    "NotFoundError",
    "PlanError",
    "Problem",
    "StoreError",
    "UsageError",
    "__version__",
]

if TYPE_CHECKING:
    from clearance.errors import (
        ClearanceError,
        ConflictError,
        EvidenceError,
        ForbiddenError,
        IntegrityError,
        NotFoundError,
        PlanError,
        Problem,
        StoreError,
        UsageError,
    )


def __getattr__(name: str) -> Any:
    """The errors, imported when first asked for: `clearance --help` never needs them."""
    if name in __all__:
        from clearance import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'clearance' has no attribute {name!r}")
