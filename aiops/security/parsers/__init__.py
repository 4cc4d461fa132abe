"""Security log parsers: one module per source family, a registry that picks one by format name.

Light to import: the format modules (pySigma's Windows mapping among them) load on first use.
"""
from __future__ import annotations

from aiops.lazy_exports import lazy_exports

__all__ = ["ParseError", "RecordParser", "require_mapping", "record_timestamp", "JSON_FORMATS", "get_parser",
           "formats", "validate_format", "UnknownFormatError", "parse_records", "parse_file", "iter_json_records",
           "read_text_members"]

__getattr__, __dir__ = lazy_exports(__name__, {
    "ParseError": ".base", "RecordParser": ".base", "require_mapping": ".base", "record_timestamp": ".base",
    **{name: ".registry" for name in ("JSON_FORMATS", "get_parser", "formats", "validate_format", "UnknownFormatError",
                                      "parse_records", "parse_file", "iter_json_records", "read_text_members")},
})
