"""Clearance: deployment plans as code, a release gate that decides from evidence, sign-offs
bound to what they approve, and a record an auditor can verify offline."""

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
