"""Each simulated traveller connects from its own loopback address (`127.x.y.z`).

The gateway takes the client's address from the connection, never from a header a client could
forge, so behind it every simulated user would be 127.0.0.1 and the per-client limit of the
anonymous routes (register, login) would count them all as one client. Linux answers on the
whole of 127.0.0.0/8, so binding each user's sockets to an address of its own makes the gateway
see distinct clients the way it sees real travellers. Only connections to a loopback gateway
are bound (a remote gateway would see this machine's one address whatever we do).
"""

from __future__ import annotations

import ipaddress
import random
import socket
from typing import Any

import gevent.local
from geventhttpclient.connectionpool import ConnectionPool

_user = gevent.local.local()  # each locust user runs in a greenlet of its own
_create_tcp_socket = ConnectionPool._create_tcp_socket


def new_address(rng: random.Random) -> str:
    """A loopback address other than 127.0.0.1 for one simulated user."""
    return f"127.{rng.randrange(1, 255)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"


def connect_from(address: str) -> None:
    """Bind the calling user's (greenlet's) future connections to `address`."""
    _user.address = address


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _bound_tcp_socket(pool: ConnectionPool, family: int, socktype: int, protocol: int) -> Any:
    sock = _create_tcp_socket(pool, family, socktype, protocol)
    address = getattr(_user, "address", None)
    if address and family == socket.AF_INET and _is_loopback(pool._connection_host):
        sock.bind((address, 0))
    return sock


ConnectionPool._create_tcp_socket = _bound_tcp_socket  # type: ignore[method-assign,assignment]
