"""``python -m devcasdoor``: the development Casdoor server standalone, on the demo seed."""
import argparse
import logging

from werkzeug.serving import run_simple

from . import create_dev_casdoor
from .state import TRANSACTIONS_MODES


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m devcasdoor",
                                     description="Casdoor-compatible development server (not for production).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--state-dir", default="instance/devcasdoor",
                        help="where generated signing keys are kept across restarts")
    parser.add_argument("--dev-controls", action="store_true", help="enable the /_dev/ test controls")
    parser.add_argument("--webhook-poll-seconds", type=float, default=30.0)
    parser.add_argument("--transactions", choices=TRANSACTIONS_MODES, default="current",
                        help="transaction API generation: 'current' (Casdoor v2.162+) or "
                             "'legacy' (v2.117 - v2.144: client names kept, balance keyed on category)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.INFO)
    app = create_dev_casdoor(None, args.state_dir, enable_dev_controls=args.dev_controls,
                             webhook_poll_seconds=args.webhook_poll_seconds,
                             transactions_mode=args.transactions)
    try:
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    finally:
        app.extensions["devcasdoor"].stop()


if __name__ == "__main__":
    main()
