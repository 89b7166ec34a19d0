# ManageSieve STARTTLS (RFC 5804 section 2.2).
#
# The server speaks first with its capabilities, one quoted pair per line ("STARTTLS",
# "SASL" "PLAIN LOGIN", "IMPLEMENTATION" "..."), ended by OK; STARTTLS is answered OK
# (NO/BYE refuse, RFC 5804 section 1.3). The steps are LineDialogue's (_base); what is
# ManageSieve's own is the capability list in place of a greeting.
from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import LineDialogue, Reply, Step, one_line, text, until

MAX_CAPABILITIES = 200
ENDS = (b"OK", b"NO", b"BYE")  # RFC 5804 section 1.3: a response ends with one of these


@dataclass(slots=True)
class Sieve(LineDialogue):
    PROTOCOL: ClassVar[str] = "sieve"
    RFC: ClassVar[str] = "RFC 5804"
    INJECT: ClassVar[bytes] = b"NOOP\r\n"
    GREETING_OK = (b"OK",)
    GO_AHEAD = (b"OK",)

    def read_greeting(self) -> Generator[Step, bytes, Reply]:
        return (yield from until(ENDS, MAX_CAPABILITIES, f"no OK after {MAX_CAPABILITIES} capability lines"))

    def read_reply(self) -> Generator[Step, bytes, Reply]:
        return (yield from one_line())

    def capabilities(self, reply: Reply) -> list[str] | None:
        return [text(x.rstrip(b"\r\n")) for x in reply.lines]

    def note(self, caps: list[str]) -> None:
        for c in caps:
            if c.upper().startswith('"IMPLEMENTATION"'):
                self.facts["server_version"] = c.split(" ", 1)[1].strip('"') if " " in c else ""
            if c.upper().startswith('"SASL"') and " " in c:
                mechs = c.split(" ", 1)[1].strip('"').split()
                if mechs:
                    self.facts["plaintext_auth"] = tuple(mechs)
