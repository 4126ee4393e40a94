"""The web service of examples/day2: /healthz answers 200, /jobs hands out a job number."""

import itertools
import os
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port = int(sys.argv[sys.argv.index("--port") + 1]) if "--port" in sys.argv else 8000
env = sys.argv[sys.argv.index("--env") + 1] if "--env" in sys.argv else "dev"
jobs = itertools.count(1)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"ok\n" if self.path == "/healthz" else f"job {next(jobs)}\n".encode()
        self.send_response(200 if self.path in ("/healthz", "/jobs") else 404)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"{os.environ.get('WEB_GREETING', 'hello')} ({env}): serving on port {port}", flush=True)
try:
    server.serve_forever()
except KeyboardInterrupt:
    pass
