"""An OpenAI-compatible completion server that answers the first N requests, then holds.

It lets a test catch a real `pairwise worker sample` process mid-batch: the sampler has sent
its requests and waits for the answers, and nothing of that batch is written yet.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class HoldingServer:
    def __init__(self, answer_first: int) -> None:
        self.answer_first = answer_first
        self.received = 0
        self.release = threading.Event()
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with owner.lock:
                    owner.received += 1
                    hold = owner.received > owner.answer_first
                if hold:
                    owner.release.wait(60)
                text = f"reply to {body['messages'][-1]['content']} with seed {body['seed']}"
                message = {"role": "assistant", "content": text}
                choice = {"index": 0, "finish_reason": "stop", "message": message}
                usage = {"prompt_tokens": 5, "completion_tokens": 9}
                data = json.dumps({"choices": [choice], "usage": usage}).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the sampler gave up (or died) meanwhile

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@contextmanager
def holding_server(answer_first: int) -> Iterator[HoldingServer]:
    server = HoldingServer(answer_first)
    thread = threading.Thread(target=server.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.release.set()
        server.server.shutdown()
        server.server.server_close()
