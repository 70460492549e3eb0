from flask import g, redirect, render_template, url_for

from webapp.main import bp


@bp.route("/")
def index():
    if g.user is None:
        return redirect(url_for("auth.login"))
    return render_template("main/index.html")
