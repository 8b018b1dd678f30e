"""The report: the result object, its JSON, and its readings (HTML page, SVG charts,
terminal tables)."""
