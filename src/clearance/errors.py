"""One exception tree for Clearance; each error has a stable code and an exit code.

    ClearanceError                 exit 2 unless stated
    ├── UsageError                 a command was called the wrong way
    ├── PlanError                  a plan file is invalid; carries every problem found
    ├── EvidenceError              an evidence file cannot be read or stored
    ├── NotFoundError              a system, revision, candidate or pack that does not exist
    ├── ConflictError              contradicts recorded state (releasing a NO-GO)   exit 1
    ├── IntegrityError             a digest, signature or log that does not verify  exit 3
    ├── ForbiddenError             the acting person may not do this                 exit 77
    │   └── AuthenticationError    no valid API token (missing, unknown, expired)    exit 77
    ├── UnreachableError           the server cannot be reached (remote CLI)         exit 69
    └── StoreError                 the database cannot be opened or migrated

The CLI maps `exit_code`, the API will map `http_status`; messages say what to do next.
"""

from __future__ import annotations

from typing import NamedTuple


class ClearanceError(Exception):
    """Base of every error Clearance raises on purpose."""

    code = "clearance_error"
    exit_code = 2
    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsageError(ClearanceError):
    code = "usage"


class Problem(NamedTuple):
    """One problem in a plan: where it is and what is expected instead."""

    file: str
    line: int | None
    column: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.field}:" if self.field else ""
        return f"{where}:{field} {self.message}"


class PlanError(ClearanceError):
    """A plan that cannot be used; `problems` lists every problem found, in file order."""

    code = "invalid_plan"
    http_status = 422

    def __init__(self, problems: list[Problem], document: str = "plan") -> None:
        self.problems = problems
        #: which kind of document the problems are in ("plan" or "policy"), for messages
        self.document = document
        super().__init__("\n".join(str(p) for p in problems))


class EvidenceError(ClearanceError):
    code = "invalid_evidence"
    http_status = 422


class NotFoundError(ClearanceError):
    code = "not_found"
    http_status = 404


class ConflictError(ClearanceError):
    code = "conflict"
    exit_code = 1
    http_status = 409


class IntegrityError(ClearanceError):
    """Something recorded does not match its digest, signature or log; `failures` names each."""

    code = "integrity"
    exit_code = 3
    http_status = 409

    def __init__(self, message: str, failures: list[str] | None = None) -> None:
        self.failures = failures or []
        super().__init__(message)


class ForbiddenError(ClearanceError):
    """The acting person is not permitted (sysexits EX_NOPERM); says which permission."""

    code = "forbidden"
    exit_code = 77
    http_status = 403


class AuthenticationError(ForbiddenError):
    """No valid credentials: an API token missing, unknown, expired or revoked (HTTP 401)."""

    code = "unauthenticated"
    http_status = 401


class UnreachableError(ClearanceError):
    """The Clearance server cannot be reached (sysexits EX_UNAVAILABLE)."""

    code = "unreachable"
    exit_code = 69
    http_status = 503


class StoreError(ClearanceError):
    code = "store"
    http_status = 503
