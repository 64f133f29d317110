"""Processes for the balancer benchmarks: a C proxy, trivial echo workers.

    python -m tests.bench.workers proxy              # zmq.proxy ROUTER/DEALER, prints ports
    python -m tests.bench.workers proxy-worker ADDR  # echo worker behind zmq.proxy
    python -m tests.bench.workers target ID ADDR [KEYS]  # echo worker speaking lbbench's protocol
                                                     # (CurveZMQ with the keys of `lbbench keys`)

Both kinds of worker do the same trivial work per request (receive, send
back), so the balancer and the proxy are compared on equal targets.
"""

from __future__ import annotations

import json
import sys

import zmq

from lbbench import protocol as p
from lbbench.security import PeerKeys


def proxy() -> None:
    context = zmq.Context()
    front = context.socket(zmq.ROUTER)
    back = context.socket(zmq.DEALER)
    for sock in (front, back):
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.SNDHWM, 100_000)
        sock.setsockopt(zmq.RCVHWM, 100_000)
    front.bind("tcp://127.0.0.1:*")
    back.bind("tcp://127.0.0.1:*")
    endpoints = {
        "frontend": front.getsockopt_string(zmq.LAST_ENDPOINT),
        "backend": back.getsockopt_string(zmq.LAST_ENDPOINT),
    }
    print(json.dumps(endpoints), flush=True)
    zmq.proxy(front, back)


def proxy_worker(address: str) -> None:
    sock = zmq.Context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(address)
    while True:
        sock.send_multipart(sock.recv_multipart())


def target(ident: str, address: str, keys: str | None = None) -> None:
    sock = zmq.Context().socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.setsockopt(zmq.IDENTITY, ident.encode())
    if keys:
        PeerKeys.from_folder(keys, "target").connect(sock)
    sock.connect(address)
    sock.send_multipart([p.READY, p.encode_json({"id": ident})])
    while True:
        frames = sock.recv_multipart()
        if frames[0][:3] == p.REQ:
            sock.send_multipart([p.reply_header(frames[0][3:], p.STATUS_OK), frames[2]])


if __name__ == "__main__":
    kind, *args = sys.argv[1:]
    {"proxy": proxy, "proxy-worker": proxy_worker, "target": target}[kind](*args)
