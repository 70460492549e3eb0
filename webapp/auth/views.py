"""Local sign-in, sign-up and sign-out pages."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for

from webapp.auth import current, service
from webapp.auth.casdoor_views import casdoor_logout_url
from webapp.auth.errors import AuthError
from webapp.auth.forms import LoginForm, SignupForm
from webapp.auth.ratelimit import limit_failed_signins
from webapp.extensions import db
from webapp.security import safe_next_url
from webapp.users.errors import SignupError
from webapp.users.service import create_local_user


@limit_failed_signins(success_status=302, methods=["POST"])
def login():
    form = LoginForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user = service.authenticate_local(form.email.data, form.password.data)
        except AuthError as exc:
            form.password.errors.append(exc.message)
        else:
            current.sign_in(user, "password")
            db.session.commit()
            flash(f"Welcome back, {user.label}.", "success")
            return redirect(safe_next_url(form.next.data))
    return render_template("auth/login.html", form=form)


def signup():
    if not current_app.config["SIGNUP_ENABLED"]:
        abort(404)
    form = SignupForm(next=request.args.get("next", ""))
    if form.validate_on_submit():
        try:
            user = create_local_user(
                form.username.data, form.email.data, form.password.data, form.display_name.data
            )
        except SignupError as exc:
            flash(exc.message, "error")
        else:
            current.sign_in(user, "password")
            db.session.commit()
            flash(f"Welcome to Storehouse, {user.label}.", "success")
            return redirect(safe_next_url(form.next.data))
    return render_template("auth/signup.html", form=form)


def logout():
    """End the local session, then Casdoor's when the session came from Casdoor."""
    casdoor_url = casdoor_logout_url()
    current.sign_out()
    db.session.commit()
    flash("You are signed out.", "info")
    return redirect(casdoor_url or url_for("auth.login"))
