"""gunicorn settings shared by the four APIs (bind comes from PORT)."""
import os

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
