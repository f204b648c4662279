//! HTTP server: /metrics, /healthz and the index page, as a function returning the router.
