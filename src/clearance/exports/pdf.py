"""The pack's report.pdf: its index.html printed by WeasyPrint, so the PDF and the page say
the same thing."""

from __future__ import annotations

import warnings
from typing import Any


def render_pdf(html: str) -> bytes:
    """`html` as a PDF. Nothing is fetched while rendering (the page carries its own style,
    and names in it never become paths read on the exporting machine)."""
    with warnings.catch_warnings():
        # about fonts being subset by fontTools rather than the system's HarfBuzz: slower,
        # the same PDF
        warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
        from weasyprint import HTML
        from weasyprint.urls import URLFetcher

    class _NoFetching(URLFetcher):  # type: ignore[misc]
        def fetch(self, url: str, headers: Any = None) -> Any:
            raise ValueError(f"the report fetches nothing ({url})")

    pdf = HTML(string=html, url_fetcher=_NoFetching()).write_pdf()
    assert pdf is not None  # write_pdf returns the bytes when given no target
    return bytes(pdf)
