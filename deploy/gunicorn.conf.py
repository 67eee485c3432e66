"""gunicorn settings shared by the four APIs (bind comes from PORT)."""
import json
import os

from gunicorn import util as gunicorn_util

from shared import config as app_config  # not `config`: gunicorn reads every global

bind = f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"
workers = int(app_config.require("WEB_CONCURRENCY"))
worker_class = "gthread"
threads = int(app_config.require("WEB_THREADS"))
timeout = 30
graceful_timeout = 5
keepalive = 5
# Each worker builds its own pools and applications after the fork.
preload_app = False
accesslog = None  # the apps log each request as JSON with its correlation id

# What gunicorn refuses before the app sees it (README "Input limits"): a request
# line over 4,094 bytes (414), over 100 headers or a header over 8,190 bytes (431),
# a NUL or other invalid byte in a header (400).
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190


def _problem_json_error(sock, status_int, reason, mesg):  # noqa: ANN001 - gunicorn's signature
    """gunicorn's own error answers as problem+json, like every answer of the app
    (gunicorn has no setting for this; its workers call util.write_error)."""
    body = json.dumps({"type": "about:blank", "title": reason, "status": status_int,
                       "detail": mesg or reason}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/problem+json\r\nContent-Length: {len(body)}\r\n\r\n")
    gunicorn_util.write_nonblock(sock, head.encode("latin1") + body)


gunicorn_util.write_error = _problem_json_error
