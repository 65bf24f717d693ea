"""The API's routers, one module per feature, each exposing ``router`` (see ``ty_web.app.ROUTERS``)."""
