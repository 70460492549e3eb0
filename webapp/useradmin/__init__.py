"""Account administration: ``/admin/users/`` lists people with their store access; administrators
create local accounts, grant and take away stores, and switch accounts off; ``/admin/security-log/``
reads the security log (``webapp.audit``), also as CSV and as ``GET /api/v1/audit/events``.

``views`` holds the pages, ``forms`` their forms. URLs in ``blueprint.py``.
"""
from webapp.navigation import nav_item


def init_app(app):
    from webapp.useradmin.blueprint import api_bp, bp, log_bp

    app.register_blueprint(bp)
    app.register_blueprint(log_bp)
    app.register_blueprint(api_bp)
    nav_item(app, "admin", "useradmin.list_users", "Users", "users", order=20, admin_only=True,
             store_scoped=False, also_current=("useradmin.create_user", "useradmin.show_user"))
    nav_item(app, "admin", "securitylog.security_log", "Security log", "lock", order=25, admin_only=True,
             store_scoped=False)
