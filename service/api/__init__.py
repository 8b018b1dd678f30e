"""The HTTP API: the app (:mod:`service.api.app`), its routes and schemas, upload
intake and validation, report pages, problem answers and security headers."""
