"""Account administration: ``/admin/users/`` lists people with their store access; administrators
create local accounts, grant and take away stores, and switch accounts off.

``views`` holds the pages, ``forms`` their forms. URLs in ``blueprint.py``.
"""
from webapp.navigation import nav_item


def init_app(app):
    from webapp.useradmin.blueprint import bp

    app.register_blueprint(bp)
    nav_item(app, "admin", "useradmin.list_users", "Users", "users", order=20, admin_only=True,
             store_scoped=False, also_current=("useradmin.create_user", "useradmin.show_user"))
