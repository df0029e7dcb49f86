"""A local OpenAI-compatible chat completions server for the benchmarks that measure the RCA with a model: it
answers every POST .../chat/completions with the `chat.completion` body of a scripted draft, immediately, so
what is measured is rca's own cost around a model (prompt rendering, the client, parsing, verification)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def completion(content: str, model: str = "fake-model") -> dict[str, Any]:
    return {"id": "chatcmpl-bench", "object": "chat.completion", "created": 1768800000, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": content, "refusal": None},
                         "logprobs": None, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 2000, "completion_tokens": 300, "total_tokens": 2300}}


class FakeModel:
    """The draft the server answers with; set `answer` (the JSON text of a draft) between measurements."""

    def __init__(self) -> None:
        self.answer = '{"claims": []}'
        self.calls = 0


@contextmanager
def fake_llm() -> Iterator[tuple[str, FakeModel]]:
    """The base URL (ending in /v1) of a fresh server on a free loopback port, and the model it plays."""
    model = FakeModel()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = json.dumps(completion(model.answer)).encode()
            model.calls += 1
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", model
    finally:
        server.shutdown()
        server.server_close()
