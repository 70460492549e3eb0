"""Server-side sessions: one row per browser or API client, cached on the hot path.

``models`` (``Session``), ``store`` (reading and writing a session row on its own
connection), ``interface`` (Flask's session interface over it), ``service``
(revoke, and re-encrypting the id_tokens they keep), ``cli`` (``flask sessions``).
"""


def init_app(app):
    """Sessions in the database, ``flask sessions``, and their ``flask keys rotate`` step."""
    from webapp.sessions import service  # noqa: F401  (declares its @rotation)
    from webapp.sessions.cli import sessions_cli
    from webapp.sessions.interface import DatabaseSessionInterface

    app.session_interface = DatabaseSessionInterface()
    app.cli.add_command(sessions_cli)
