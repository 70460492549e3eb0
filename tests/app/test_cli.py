"""``flask users`` and ``flask sessions`` commands."""
from webapp.sessions.models import Session
from webapp.users.models import User


def test_bootstrap_creates_one_admin_and_prints_the_password_once(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "bootstrap"])
    assert result.exit_code == 0, result.output
    assert "password:" in result.output
    admin = db.session.execute(db.select(User)).scalar_one()
    assert admin.is_admin
    password = result.output.split("password:")[1].split()[0]
    assert admin.check_password(password)
    again = runner.invoke(args=["users", "bootstrap"])
    assert "no bootstrap needed" in again.output
    assert password not in again.output


def test_bootstrap_takes_credentials_from_config(make_app, migrated, db):
    app = make_app(BOOTSTRAP_ADMIN_EMAIL="boss@example.com", BOOTSTRAP_ADMIN_PASSWORD="from-env-secret")
    with app.app_context():
        try:
            result = app.test_cli_runner().invoke(args=["users", "bootstrap"])
            assert "from-env-secret" not in result.output
            admin = db.session.execute(db.select(User)).scalar_one()
            assert admin.email == "boss@example.com" and admin.check_password("from-env-secret")
        finally:
            from tests.support.database import clear_tables
            db.session.remove()
            clear_tables()


def test_create_admin_and_list(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create-admin", "--email", "a@example.com", "--username", "root2",
                                 "--password", "long-enough-pw"])
    assert result.exit_code == 0, result.output
    listing = runner.invoke(args=["users", "list"])
    assert "root2" in listing.output and "admin" in listing.output
    duplicate = runner.invoke(args=["users", "create-admin", "--email", "a@example.com", "--username", "root3",
                                    "--password", "long-enough-pw"])
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output


def test_sessions_revoke_by_user(app, db, client, create_user, login):
    user = create_user()
    login(client, user)
    runner = app.test_cli_runner()
    assert user.username in runner.invoke(args=["sessions", "list"]).output
    result = runner.invoke(args=["sessions", "revoke", "--user", user.username])
    assert "Revoked 1 session(s)." in result.output
    assert client.get("/api/v1/me/").status_code == 401
    db.session.expire_all()
    assert all(s.revoked_at for s in db.session.execute(db.select(Session).filter_by(user_id=user.id)).scalars())


def test_sessions_revoke_needs_a_target(app):
    result = app.test_cli_runner().invoke(args=["sessions", "revoke"])
    assert result.exit_code != 0 and "--user" in result.output


def test_sessions_purge_keeps_live_ones(app, db, client, create_user, login):
    from datetime import timedelta

    from webapp.core.clock import utcnow

    user = create_user()
    login(client, user)
    now = utcnow()
    db.session.add_all([
        Session(key_hash="a" * 64, expires_at=now + timedelta(days=1), last_seen_at=now - timedelta(days=2)),
        Session(key_hash="b" * 64, user_id=user.id, expires_at=now - timedelta(seconds=1)),
        Session(key_hash="c" * 64, user_id=user.id, expires_at=now + timedelta(days=1), revoked_at=now),
        Session(key_hash="d" * 64, expires_at=now + timedelta(days=1), last_seen_at=now),
    ])
    db.session.commit()
    result = app.test_cli_runner().invoke(args=["sessions", "purge"])
    assert "Deleted 4 session(s)." in result.output  # the three above and the pre-sign-in row
    db.session.expire_all()
    left = {row.key_hash for row in db.session.execute(db.select(Session)).scalars()}
    assert "d" * 64 in left and len(left) == 2  # a fresh anonymous row and the live sign-in
    assert client.get("/api/v1/me/").status_code == 200


def test_instance_path_gives_a_host_its_own_folder(tmp_path):
    """INSTANCE_PATH moves everything a host keeps on disk (the default SQLite database, the
    generated secret key, files on disk, installed models) to a folder of its own."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    folder = tmp_path / "host-a"
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("DATABASE_URL", "SECRET_KEY", "KNOWLEDGE_FILES_DIR", "MODELS_DIR")}
    script = ("from webapp import create_app\n"
              "app = create_app()\n"
              "print(app.instance_path)\n"
              "print(app.config['SQLALCHEMY_DATABASE_URI'])\n"
              "print(bool(app.config['SECRET_KEY']))\n")
    shown = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, timeout=120,
                           env={**environment, "INSTANCE_PATH": str(folder)})
    assert shown.returncode == 0, shown.stderr[-2000:]
    instance_path, database_uri, has_key = shown.stdout.split("\n")[-4:-1]
    assert instance_path == str(folder)
    assert database_uri == f"sqlite:///{folder / 'storehouse.db'}"
    assert has_key == "True" and (folder / "secret_key").is_file()
