"""FaultProxy: a small threaded TCP relay on 127.0.0.1 for the fault suite's gray faults.

Clients connect to `port`; each connection is relayed to the upstream address by two pump
threads. Faults, switchable while traffic flows: `latency` (seconds added before each chunk
is forwarded, each way), `blackhole` (nothing is forwarded and nothing read, connections stay
open: a silent partition; the kernel's buffers hold what was sent, as TCP retransmission would
across a real one, and it flows once healed), `reset_all()` (every open connection closed with an RST on both sides,
mid-frame). Loopback only; it never touches the servers themselves. (The Swift tests have
their own relay, Tests/RabbitMQTests/TCPProxy.swift, for in-process use.)
"""

from __future__ import annotations

import socket
import struct
import threading
import time


class FaultProxy:
    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.latency = 0.0
        self.blackhole = False
        self._lock = threading.Lock()
        self._conns: list[socket.socket] = []
        self._stopped = False
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port: int = self._listener.getsockname()[1]

    def start(self) -> None:
        threading.Thread(target=self._accept, daemon=True, name=f"proxy-{self.port}").start()

    def stop(self) -> None:
        self._stopped = True
        try:
            self._listener.close()
        except OSError:
            pass
        self.reset_all()

    def reset_all(self) -> None:
        """Closes every relayed connection with an RST (SO_LINGER 0), both sides at once."""
        with self._lock:
            conns, self._conns = self._conns, []
        for s in conns:
            try:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                # Wake the pump thread blocked in recv first: a close() alone would leave the
                # socket alive (and silent) for as long as that recv holds it.
                s.shutdown(socket.SHUT_RD)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for s in (client, server):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self._conns += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while True:
                while self.blackhole:
                    time.sleep(0.02)
                data = src.recv(65536)
                if not data:
                    break
                if self.latency:
                    time.sleep(self.latency)
                while self.blackhole:
                    time.sleep(0.02)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
