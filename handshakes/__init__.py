"""Sans-IO TLS handshake codec: build any ClientHello, read anything a server answers.

Nothing in this package imports trio, socket or anything that blocks: bytes go in,
frozen events come out (see events.py).
"""
