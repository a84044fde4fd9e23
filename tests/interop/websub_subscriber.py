"""An independent WebSub subscriber for Kabar's interop test: flask-websub 0.4.1.

Usage: websub_subscriber.py FEED_URL WORK_DIR

It serves its callbacks on 127.0.0.1 (a free port), discovers the hub and the
topic from FEED_URL (flask_websub.subscriber.discover: the Link header, else
the feed's <link rel="hub">), subscribes with a secret, and prints one JSON
line per event on stdout:

  {"event": "ready", "callback_base": ...}       callbacks are being served
  {"event": "discovered", "hub": ..., "topic": ...}
  {"event": "subscribe", "topic": ...}           verification of intent passed
  {"event": "error", "topic": ..., "reason": ...}
  {"event": "delivery", "topic": ..., "sha256": ..., "length": ...}

A "delivery" line is printed only for a notification whose X-Hub-Signature
flask-websub's own code accepted (subscriber/blueprint.py, body_is_valid:
utils.calculate_hmac and hmac.compare_digest); a body that fails that check
is acknowledged but never reaches the listener. It runs until stdin closes.

One adjustment, and why: flask-websub refuses to send hub.secret to a hub whose
URL is not https (subscriber/__init__.py, add_secret_to_args raises
"Only specify a secret when using https"), following WebSub 5.1's SHOULD. The
test's Kabar serves plain HTTP on 127.0.0.1, with no certificate to offer, so
the script tells flask-websub the hub is secure (flask_websub.subscriber.is_secure).
That changes only that check and that the request goes to the hub's own URL
instead of first trying https; the discovery, the request, the verification
and the signature check are the library's.
"""

import hashlib
import json
import sys
import threading

from flask import Flask
from werkzeug.serving import make_server

import flask_websub.subscriber as websub
from flask_websub.subscriber import (
    SQLite3SubscriberStorage,
    SQLite3TempSubscriberStorage,
    Subscriber,
    discover,
)

SECRET = "kabar-interop-secret-0123456789"


def emit(**event):
    print(json.dumps(event), flush=True)


def main():
    feed_url, work_dir = sys.argv[1], sys.argv[2]
    app = Flask("kabar_interop_subscriber")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    port = server.socket.getsockname()[1]
    app.config["SERVER_NAME"] = "127.0.0.1:%d" % port
    app.config["PREFERRED_URL_SCHEME"] = "http"

    subscriber = Subscriber(
        SQLite3SubscriberStorage(work_dir + "/subscriptions.sqlite"),
        SQLite3TempSubscriberStorage(work_dir + "/requests.sqlite"),
    )
    app.register_blueprint(subscriber.build_blueprint(url_prefix="/callbacks"))
    subscriber.add_success_handler(
        lambda topic, callback_id, mode: emit(event=mode, topic=topic)
    )
    subscriber.add_error_handler(
        lambda topic, callback_id, reason: emit(event="error", topic=topic, reason=reason)
    )
    subscriber.add_listener(
        lambda topic, callback_id, body: emit(
            event="delivery",
            topic=topic,
            sha256=hashlib.sha256(body).hexdigest(),
            length=len(body),
        )
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    emit(event="ready", callback_base="http://127.0.0.1:%d/callbacks" % port)

    found = discover(feed_url)
    emit(event="discovered", hub=found["hub_url"], topic=found["topic_url"])
    websub.is_secure = lambda url: True  # see the module's docstring
    with app.app_context():
        subscriber.subscribe(
            topic_url=found["topic_url"],
            hub_url=found["hub_url"],
            secret=SECRET,
            lease_seconds=86400,
        )
    sys.stdin.read()
    server.shutdown()


if __name__ == "__main__":
    main()
