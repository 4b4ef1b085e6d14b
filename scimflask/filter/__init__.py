"""SCIM filters (RFC 7644 §3.4.2.2): parsing and binding, rendering, the reference evaluator
and the reference sort order (§3.4.2.3).

Text goes in through `parse_filter`, `parse_path` (PATCH) and `parse_attr_path` (sortBy) and
comes out as the bound AST of `scimflask.filter.ast`; `matches` and `sort_documents` say what
that AST means, and every storage backend must agree with them.
"""

from .ast import And, AttrPath, Compare, Filter, Not, Or, Present, ValuePath
from .evaluate import element_matches, matches, parse_datetime, values_at
from .parser import parse_attr_path, parse_filter, parse_path
from .path import PatchPath
from .render import render
from .sort import sort_documents, sort_key

__all__ = [
    "And", "AttrPath", "Compare", "Filter", "Not", "Or", "Present", "ValuePath", "PatchPath",
    "parse_filter", "parse_path", "parse_attr_path", "render",
    "matches", "element_matches", "values_at", "parse_datetime",
    "sort_key", "sort_documents",
]
