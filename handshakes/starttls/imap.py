# IMAP STARTTLS (RFC 3501 section 6.2.1, RFC 9051 section 6.2.1; RFC 2595 section 3.1).
#
# Greeting "* OK" (or "* PREAUTH"; "* BYE" is a refusal, RFC 3501 section 7.1.5), then
# CAPABILITY (section 6.1.1) and STARTTLS, answered by a tagged OK. A server that does not
# list LOGINDISABLED accepts LOGIN in plaintext (RFC 3501 section 6.2.3): recorded as
# plaintext authentication offered, with the AUTH= mechanisms listed. The steps are
# LineDialogue's (_base); what is IMAP's own is the tags.
from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import ClassVar

from handshakes.starttls._base import LineDialogue, Reply, Step, one_line, text, until

# Each command's tag (RFC 3501 section 2.2.1); its answer is the line with that tag.
TAGS = {"CAPABILITY": b"A1", "STARTTLS": b"A2"}
MAX_UNTAGGED = 100


@dataclass(slots=True)
class IMAP(LineDialogue):
    PROTOCOL: ClassVar[str] = "imap"
    RFC: ClassVar[str] = "RFC 3501"
    INJECT: ClassVar[bytes] = b"A3 NOOP\r\n"
    GREETING_OK = (b"* OK", b"* PREAUTH")
    CAPA = "CAPABILITY"
    GO_AHEAD = (TAGS["STARTTLS"] + b" OK",)

    def line(self, name: str) -> bytes:
        return TAGS[name] + b" " + name.encode() + b"\r\n"

    def read_greeting(self) -> Generator[Step, bytes, Reply]:
        return (yield from one_line())

    def read_list(self) -> Generator[Step, bytes, Reply]:
        return (yield from _tagged(self.CAPA))

    def read_reply(self) -> Generator[Step, bytes, Reply]:
        # A "* BYE" ends it too: the server closes (RFC 3501 section 7.1.5).
        return (yield from _tagged(self.REQUEST, ends=(b"* BYE",)))

    def capabilities(self, reply: Reply) -> list[str] | None:
        return [c for x in reply.lines if x.upper().startswith(b"* CAPABILITY ") for c in text(x[13:].strip()).split()]

    def note(self, caps: list[str]) -> None:
        if "LOGINDISABLED" not in (c.upper() for c in caps):
            self.facts["plaintext_auth"] = tuple(dict.fromkeys(("LOGIN", *(c[5:] for c in caps if c.upper().startswith("AUTH=")))))


def _tagged(name: str, ends: tuple[bytes, ...] = ()) -> Generator[Step, bytes, Reply]:
    """The untagged lines, then the tagged line answering ``name`` (or one of ``ends``)."""
    return (yield from until((TAGS[name] + b" ", *ends), MAX_UNTAGGED, f"no tagged answer to {name} in {MAX_UNTAGGED} lines"))
