"""A TCP proxy that drops a connection in the middle of an event stream, as a flaky
network does: for tests of clients that must resume."""

import socket
import threading


class CuttingProxy:
    """Listens on 127.0.0.1:port and forwards each connection to 127.0.0.1:target_port.
    On its first connection it forwards the answer only up to the end of the first SSE
    frame holding `marker`, then closes that connection; later connections pass whole.
    `requests` keeps the start of what each connection sent (its request line and
    headers)."""

    def __init__(self, target_port: int, marker: bytes):
        self.target_port, self.marker = target_port, marker
        self.requests: list[bytes] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def close(self) -> None:
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            with self._lock:
                self.requests.append(b"")
                number = len(self.requests) - 1
            threading.Thread(target=self._serve, args=(client, number), daemon=True).start()

    def _serve(self, client: socket.socket, number: int) -> None:
        upstream = socket.create_connection(("127.0.0.1", self.target_port))
        threading.Thread(target=self._forward_request, args=(client, upstream, number),
                         daemon=True).start()
        received, sent = b"", 0
        try:
            while chunk := upstream.recv(65536):
                if number > 0:
                    client.sendall(chunk)
                    continue
                received += chunk
                cut = self._cut_point(received)
                client.sendall(received[sent:cut])
                sent = len(received) if cut is None else cut
                if cut is not None:
                    break
        except OSError:
            pass
        finally:
            for end in (client, upstream):
                try:
                    end.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                end.close()

    def _cut_point(self, received: bytes) -> int | None:
        """Where the first frame holding the marker ends, once it has all arrived."""
        at = received.find(self.marker)
        if at < 0:
            return None
        end = received.find(b"\n\n", at)
        return None if end < 0 else end + 2

    def _forward_request(self, client: socket.socket, upstream: socket.socket,
                         number: int) -> None:
        try:
            while chunk := client.recv(65536):
                with self._lock:
                    if len(self.requests[number]) < 8192:
                        self.requests[number] += chunk
                upstream.sendall(chunk)
        except OSError:
            pass
