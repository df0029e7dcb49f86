"""Serve quotes: `PORT=8080 KAFKA_BOOTSTRAP=kafka-1:9092 python -m pricing`."""

from __future__ import annotations

import json
import os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from confluent_kafka import Producer

from pricing.quote import quote


def main() -> None:
    producer = Producer({"bootstrap.servers": os.environ.get("KAFKA_BOOTSTRAP", "localhost:9092")})

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/healthz" else 404)
            self.end_headers()

        def do_POST(self) -> None:
            try:
                request = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                body = quote(request["sku"], int(request["quantity"]))
            except (ValueError, KeyError) as exc:
                self.send_response(400)
                self.end_headers()
                self.wfile.write(str(exc).encode())
                return
            producer.produce("pricing.quotes", json.dumps(body).encode(), key=body["sku"])
            producer.poll(0)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(json.dumps(body).encode())

    server = ThreadingHTTPServer(("", int(os.environ.get("PORT", "8080"))), Handler)
    print(f"pricing-service listening on {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    finally:
        producer.flush(5)


if __name__ == "__main__":
    main()
