"""Signing in: local accounts and Casdoor single sign-on, for pages and for the API.

* ``views`` (local sign-in, sign-up, sign-out), ``casdoor_views`` (SSO: start,
  callback, link an existing account), ``api`` (the JSON sign-in API);
* ``oidc`` (the only module that uses Authlib), ``identities`` (Casdoor
  identities to users: never linked silently), ``current`` (who is asking:
  ``g.user``, signing in and out), ``bearer`` (``Authorization: Bearer``);
* ``decorators`` (``login_required``, ``admin_required``), ``service``
  (authenticate a password), ``ratelimit``, ``forms``, ``schemas``, ``errors``.

URLs in ``blueprint.py``.
"""


def init_app(app):
    """The pages and the API; Casdoor's OAuth client and Bearer loader when Casdoor is configured."""
    from webapp.auth.bearer import load_bearer_user
    from webapp.auth.blueprint import api_bp, casdoor, pages
    from webapp.auth.current import load_current_user
    from webapp.auth.oidc import register_client

    loaders = app.extensions.setdefault("storehouse_bearer_loaders", [])
    integration = app.extensions.get("casdoor")
    if integration is not None:
        integration.oauth = register_client(app, integration.settings, integration.verifier)
        loaders.append(load_bearer_user)
    app.before_request(load_current_user)
    app.register_blueprint(pages)
    app.register_blueprint(casdoor)
    app.register_blueprint(api_bp)
