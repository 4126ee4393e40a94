"""A health endpoint for tests: GET answers with the status code written in CODE_FILE (200 if none).

usage: httpd.py PORT CODE_FILE EVENTS NAME   (records "start NAME PID" once listening)
"""

import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

port, code_file, events, name = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        try:
            with open(code_file) as handle:
                code = int(handle.read().strip() or 200)
        except FileNotFoundError:
            code = 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


server = HTTPServer(("127.0.0.1", port), Handler)
with open(events, "a") as out:
    out.write(f"start {name} {os.getpid()}\n")
server.serve_forever()
