"""The report (schema_version 1) and its views: text, Markdown, HTML."""
