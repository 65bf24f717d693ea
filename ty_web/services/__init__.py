"""The rules behind both the JSON API's routes (ty_web.routers) and the pages (ty_web.pages), one module per area:
each rule is written once and called by both. They raise :class:`ty_web.errors.ApiError`; the API answers it as
JSON, a page shows it in the user's language."""
