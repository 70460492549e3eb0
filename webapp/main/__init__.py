"""The front door: where ``/`` takes a signed-in person, and the API's version handshake."""


def init_app(app):
    from webapp.main.blueprint import bp

    app.register_blueprint(bp)
