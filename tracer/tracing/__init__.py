"""The tracing path: read and segment the article, search candidates, judge, trace."""
