# The pre-TLS dialogues: sans-IO state machines that bring a plaintext protocol to the
# point where the next bytes are a TLS ClientHello (STARTTLS and its cousins). One module
# per protocol, each citing its RFC; all share the driver in _base (bytes in, events out,
# no sockets, no clocks).
from __future__ import annotations

from collections.abc import Callable

from handshakes.starttls._base import (
    NOT_OFFERED,
    REFUSED,
    THROTTLED,
    Dialogue,
    Event,
    Facts,
    Failed,
    Ready,
    State,
    printable,
)
from handshakes.starttls.ftp import FTP
from handshakes.starttls.imap import IMAP
from handshakes.starttls.ldap import LDAP
from handshakes.starttls.mysql import MySQL
from handshakes.starttls.nntp import NNTP
from handshakes.starttls.pop3 import POP3
from handshakes.starttls.postgres import Postgres
from handshakes.starttls.rdp import RDP
from handshakes.starttls.sieve import Sieve
from handshakes.starttls.smtp import LMTP, SMTP
from handshakes.starttls.xmpp import XMPP, XMPPServer

__all__ = [
    "DIALOGUES", "NOT_OFFERED", "REFUSED", "THROTTLED", "Dialogue", "Event", "Facts", "Failed",
    "Ready", "State", "injectable", "make_dialogue", "printable",
]

# The name a user gives (--starttls, `starttls:`) -> the dialogue class.
DIALOGUES: dict[str, type[Dialogue]] = {
    "smtp": SMTP, "lmtp": LMTP, "imap": IMAP, "pop3": POP3, "sieve": Sieve, "nntp": NNTP,
    "ftp": FTP, "ldap": LDAP, "xmpp": XMPP, "xmpp-server": XMPPServer, "postgres": Postgres,
    "mysql": MySQL, "rdp": RDP,
}


def make_dialogue(name: str, *, domain: str = "", inject: bool = False) -> Dialogue:
    """A fresh dialogue for one connection. ``domain``: the XMPP service domain;
    ``inject``: pipeline the dialogue's INJECT command after the request to start TLS.
    Raises KeyError for an unknown name."""
    cls = DIALOGUES[name]
    if issubclass(cls, XMPP):
        return cls(domain=domain, inject=inject)
    return cls(inject=inject)


def injectable(name: str) -> bool:
    """Whether the command injection check applies to this dialogue (a text protocol
    with a command to pipeline)."""
    return bool(DIALOGUES[name].INJECT)


Factory = Callable[[], Dialogue]
