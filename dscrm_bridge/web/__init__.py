"""The bridge's HTTP service (``dscrm serve``): the feed's JSON API and web page.

    create_app(service, *, extra_routers=()) -> FastAPI      (dscrm_bridge.web.app)
    app_from_config(config) -> FastAPI                        (dscrm_bridge.web.app)
    serve(config) -> None / running_web(...)                  (dscrm_bridge.web.server)
    create_api_token / list_api_tokens / revoke_api_token     (dscrm_bridge.web.auth)

The webhook receiver (:mod:`dscrm_bridge.web.webhook`) is mounted on the same app.
"""
