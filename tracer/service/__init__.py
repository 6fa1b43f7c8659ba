"""`trace serve`: the HTTP API, the editors' page, the OpenAPI document. Sits above ``index``."""
