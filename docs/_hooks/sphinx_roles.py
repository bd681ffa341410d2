"""mkdocs hook: the docstrings' Sphinx roles (``:class:`Name```) shown as plain code.

The code's docstrings cross-reference with Sphinx roles; mkdocstrings renders the role's
target as code but leaves the role's name in front of it (``:class:`` before
``<code>Name</code>``). :func:`on_page_content` drops those names from the HTML.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["on_page_content", "strip_roles"]

_ROLE = re.compile(r":(?:py:)?(?:func|class|mod|meth|attr|data|exc|obj|const):(?=<code)")


def strip_roles(html: str) -> str:
    """``html`` without the role names that stand before inline code."""
    return _ROLE.sub("", html)


def on_page_content(html: str, **kwargs: Any) -> str:
    """mkdocs hook: clean every page's HTML."""
    return strip_roles(html)
