"""The team server: a REST API under /api/v1 over the same services as the CLI.

`create_app(settings)` builds it; nothing is built at import time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clearance.api.app import create_app as create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from clearance.api.app import create_app

        return create_app
    raise AttributeError(name)
