"""People who use Storehouse, whether they sign in locally or through Casdoor.

``models`` (``User``), ``cache`` (a user by id on the hot path), ``service``
(find and create accounts; flushes), ``errors``, ``cli`` (``flask users``).
Administrators' pages over accounts are ``webapp.useradmin``.
"""


def init_app(app):
    from webapp.users.cli import users_cli

    app.cli.add_command(users_cli)
