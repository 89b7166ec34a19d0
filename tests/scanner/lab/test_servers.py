# The lab servers, checked from the outside with stdlib `ssl` clients and raw sockets:
# each one negotiates what it was configured for, misbehaves as promised, and stops
# promptly without leaving a process or thread behind.

import os
import socket
import ssl
import struct
import threading
import time
import warnings
from collections.abc import Iterator

import pytest
import trio

from scanner.lab.certs import IssuedCert, Pki
from scanner.lab.servers import (
    LabServerError,
    OpenSSLServer,
    RawServer,
    StdlibSSLServer,
    TlsliteServer,
    alert,
    replay,
)

REQUEST = b"GET / HTTP/1.0\r\n\r\n"


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return Pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def leaf(pki: Pki) -> IssuedCert:
    return pki.issue("server")


@pytest.fixture(scope="module")
def ec_leaf(pki: Pki) -> IssuedCert:
    return pki.issue("server-ec", key="ecdsa-p256")


@pytest.fixture(scope="module")
def client_cert(pki: Pki) -> IssuedCert:
    return pki.issue_client("client")


def client_context(
    pki: Pki | None = None,
    *,
    min_version: int | None = None,
    max_version: int | None = None,
    ciphers: str | None = None,
    client: IssuedCert | None = None,
) -> ssl.SSLContext:
    """A client context trusting the lab root (or nothing, with pki=None)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if pki is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        ctx.load_verify_locations(pki.ca_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        if min_version is not None:
            ctx.minimum_version = ssl.TLSVersion(min_version)
        if max_version is not None:
            ctx.maximum_version = ssl.TLSVersion(max_version)
    if min_version is not None and min_version < 0x0303:
        ciphers = f"{ciphers or 'DEFAULT'}:@SECLEVEL=0"
    if ciphers:
        ctx.set_ciphers(ciphers)
    if client is not None:
        ctx.load_cert_chain(client.fullchain_path, client.key_path)
    return ctx


def talk(address, ctx: ssl.SSLContext, server_hostname: str | None = "localhost"):
    """Handshake, send a request, read the whole reply; return (version, cipher, der, reply)."""
    with socket.create_connection(address, timeout=5) as sock:
        with ctx.wrap_socket(sock, server_hostname=server_hostname) as tls:
            facts = (tls.version(), tls.cipher()[0], tls.getpeercert(binary_form=True))
            tls.sendall(REQUEST)
            reply = b""
            try:
                while chunk := tls.recv(65536):
                    reply += chunk
            except (ssl.SSLEOFError, ConnectionResetError):
                pass
            return (*facts, reply)


def client_hello_bytes() -> bytes:
    """A real TLS ClientHello produced by stdlib ssl through memory BIOs."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ssl.create_default_context().wrap_bio(incoming, outgoing, server_hostname="localhost")
    with pytest.raises(ssl.SSLWantReadError):
        obj.do_handshake()
    return outgoing.read()


def ssl3_client_hello() -> bytes:
    """A minimal SSL 3.0 ClientHello (RFC 6101 §5.6.1.2): no extensions, RSA suites."""
    suites = (0x002F, 0x0035, 0x000A, 0x00FF)  # AES128-SHA, AES256-SHA, 3DES, reneg SCSV
    body = (
        b"\x03\x00"  # client_version: SSL 3.0
        + os.urandom(32)  # random
        + b"\x00"  # session_id: empty
        + struct.pack("!H", 2 * len(suites))
        + b"".join(struct.pack("!H", s) for s in suites)
        + b"\x01\x00"  # compression_methods: null
    )
    handshake = b"\x01" + len(body).to_bytes(3, "big") + body  # ClientHello
    return b"\x16\x03\x00" + struct.pack("!H", len(handshake)) + handshake


def der(issued: IssuedCert) -> bytes:
    from cryptography.hazmat.primitives.serialization import Encoding

    return issued.cert.public_bytes(Encoding.DER)


def recv_all(sock: socket.socket, limit: int = 1 << 20) -> bytes:
    data = b""
    while len(data) < limit and (chunk := sock.recv(65536)):
        data += chunk
    return data


@pytest.fixture(autouse=True)
def no_thread_left_behind() -> Iterator[None]:
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        extra = [
            t
            for t in set(threading.enumerate()) - before
            if t.name.startswith(("TlsliteServer", "StdlibSSLServer", "RawServer"))
        ]
        if not extra:
            return
        time.sleep(0.02)
    pytest.fail(f"threads left running: {extra}")


# -- openssl s_server -------------------------------------------------------------


def test_openssl_default_serves_tls13_with_the_configured_chain(pki: Pki, leaf: IssuedCert) -> None:
    with OpenSSLServer(cert=leaf, www=True) as server:
        assert server.host == "127.0.0.1" and server.address == ("127.0.0.1", server.port)
        version, _, cert, reply = talk(server.address, client_context(pki))
        assert version == "TLSv1.3"
        assert cert == der(leaf)
        assert reply.startswith(b"HTTP/1.0 200 ok")
        assert "-cert_chain" in server.argv and "-quiet" in server.argv
        process = server.process
    assert process is not None and process.returncode is not None
    with pytest.raises(OSError):
        socket.create_connection(server.address, timeout=1).close()


def test_openssl_version_and_cipher_limits(pki: Pki, leaf: IssuedCert) -> None:
    with OpenSSLServer(
        cert=leaf, max_version=0x0303, cipher="ECDHE-RSA-AES128-GCM-SHA256", www=True
    ) as server:
        assert "-no_tls1_3" in server.argv
        version, cipher, _, _ = talk(server.address, client_context(pki))
        assert (version, cipher) == ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
        # a TLS 1.3-only client is refused
        with pytest.raises(ssl.SSLError):
            talk(server.address, client_context(pki, min_version=0x0304))


def test_openssl_tls10_needs_and_gets_seclevel_0(pki: Pki, leaf: IssuedCert) -> None:
    with OpenSSLServer(cert=leaf, min_version=0x0301, max_version=0x0301, www=True) as server:
        assert server.argv[server.argv.index("-cipher") + 1] == "DEFAULT:@SECLEVEL=0"
        assert {"-no_tls1_1", "-no_tls1_2", "-no_tls1_3"} <= set(server.argv)
        version, cipher, _, reply = talk(server.address, client_context(pki, min_version=0x0301))
        assert version == "TLSv1" and cipher.startswith("ECDHE-RSA-")
        assert reply.startswith(b"HTTP/1.0 200 ok")


def test_openssl_weak_certificate_loads_at_seclevel_0(pki: Pki) -> None:
    weak = pki.issue("server-weak", key="rsa1024", hash="sha1")
    with OpenSSLServer(cert=weak, www=True) as server:
        assert "DEFAULT:@SECLEVEL=0" in server.argv
        _, _, cert, _ = talk(server.address, client_context(min_version=0x0303))
        assert cert == der(weak)


def test_openssl_rsa_and_ecdsa_certificates(
    pki: Pki, leaf: IssuedCert, ec_leaf: IssuedCert
) -> None:
    with OpenSSLServer(cert=leaf, dcert=ec_leaf, max_version=0x0303, www=True) as server:
        assert "-dcert" in server.argv and "-dkey" in server.argv
        ec = client_context(pki, ciphers="ECDHE-ECDSA-AES128-GCM-SHA256")
        assert talk(server.address, ec)[2] == der(ec_leaf)
        rsa = client_context(pki, ciphers="ECDHE-RSA-AES128-GCM-SHA256")
        assert talk(server.address, rsa)[2] == der(leaf)


def test_openssl_sni_picks_the_second_certificate(pki: Pki, leaf: IssuedCert) -> None:
    # issued by the root: s_server cannot send an intermediate with -cert2
    other = pki.issue("server-other", sans=("other.example",), issuer="root")
    with OpenSSLServer(cert=leaf, servername="other.example", cert2=other, www=True) as server:
        assert talk(server.address, client_context(pki), "other.example")[2] == der(other)
        assert talk(server.address, client_context(pki), "localhost")[2] == der(leaf)


def test_openssl_requires_a_client_certificate(
    pki: Pki, leaf: IssuedCert, client_cert: IssuedCert
) -> None:
    with OpenSSLServer(
        cert=leaf,
        require_client_cert=True,
        ca_file=pki.ca_path,
        verify_return_error=True,
        max_version=0x0303,
        www=True,
    ) as server:
        assert "-Verify" in server.argv
        with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE|CERTIFICATE_REQUIRED"):
            talk(server.address, client_context(pki))
        with_cert = client_context(pki, client=client_cert)
        assert talk(server.address, with_cert)[3].startswith(b"HTTP/1.0 200 ok")


def test_openssl_alpn(pki: Pki, leaf: IssuedCert) -> None:
    with OpenSSLServer(cert=leaf, alpn=("h2", "http/1.1")) as server:
        ctx = client_context(pki)
        ctx.set_alpn_protocols(["http/1.1"])
        with socket.create_connection(server.address, timeout=5) as sock:
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                assert tls.selected_alpn_protocol() == "http/1.1"


def test_openssl_start_failure_reports_stderr(tmp_path, leaf: IssuedCert) -> None:
    server = OpenSSLServer(cert=tmp_path / "missing.pem", key=leaf.key_path)
    with pytest.raises(LabServerError, match="missing.pem"):
        server.start()
    assert server.returncode is not None
    with pytest.raises(LabServerError, match="SSL 3.0"):
        OpenSSLServer(cert=leaf, min_version=0x0300).start()


def test_openssl_retries_when_the_port_is_taken(monkeypatch, leaf: IssuedCert) -> None:
    import scanner.lab.servers as servers

    with socket.create_server(("127.0.0.1", 0)) as taken:
        taken_port = taken.getsockname()[1]
        ports = iter([taken_port])
        real = servers._free_port
        monkeypatch.setattr(servers, "_free_port", lambda: next(ports, None) or real())
        with OpenSSLServer(cert=leaf) as server:
            assert server.port != taken_port
            assert f"127.0.0.1:{server.port}" in server.argv


def test_openssl_stops_promptly_with_a_client_attached(leaf: IssuedCert) -> None:
    server = OpenSSLServer(cert=leaf).start()
    hanging = socket.create_connection(server.address, timeout=5)
    try:
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 2.5
        assert server.returncode is not None
    finally:
        hanging.close()


async def test_openssl_async_context_manager(pki: Pki, leaf: IssuedCert) -> None:
    async with OpenSSLServer(cert=leaf, www=True) as server:
        tcp = await trio.open_tcp_stream(*server.address)
        stream = trio.SSLStream(tcp, client_context(pki), server_hostname="localhost")
        await stream.send_all(REQUEST)
        assert (await stream.receive_some(4096)).startswith(b"HTTP/1.0 200 ok")
        await stream.aclose()
    assert server.returncode is not None


# -- tlslite-ng ---------------------------------------------------------------------


def test_tlslite_answers_an_ssl3_client_hello(leaf: IssuedCert) -> None:
    with TlsliteServer(cert=leaf, min_version=0x0300, max_version=0x0300) as server:
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(ssl3_client_hello())
            reply = sock.recv(5)
        # a handshake record in SSL 3.0 (RFC 6101 §5.2.1): 16 03 00
        assert reply[:3] == b"\x16\x03\x00"


@pytest.mark.parametrize("version", [0x0301, 0x0302, 0x0303, 0x0304])
def test_tlslite_versions(pki: Pki, leaf: IssuedCert, version: int) -> None:
    with TlsliteServer(cert=leaf, min_version=version, max_version=version) as server:
        ctx = client_context(pki, min_version=min(version, 0x0303))
        got, _, cert, reply = talk(server.address, ctx)
        (record,) = server.wait_for_records(1)
    names = {0x0301: "TLSv1", 0x0302: "TLSv1.1", 0x0303: "TLSv1.2", 0x0304: "TLSv1.3"}
    assert got == names[version] and cert == der(leaf)
    assert reply.startswith(b"HTTP/1.1 200 OK")
    assert record.ok and record.version == version and record.server_name == "localhost"


def test_tlslite_cipher_names_and_client_certificate(
    pki: Pki, leaf: IssuedCert, client_cert: IssuedCert
) -> None:
    with TlsliteServer(
        cert=leaf,
        max_version=0x0303,
        cipher_names=("aes128gcm",),
        request_client_cert=True,
        client_ca_names=(pki.ca_path,),
    ) as server:
        # a failing connection first: the server survives it
        with socket.create_connection(server.address, timeout=5) as sock:
            sock.sendall(b"not tls at all\r\n\r\n")
            recv_all(sock)
        _, cipher, _, _ = talk(server.address, client_context(pki, client=client_cert))
        bad, good = server.wait_for_records(2)
    assert not bad.ok and bad.error
    assert "AES128-GCM" in cipher
    assert good.cipher is not None and "AES_128_GCM" in good.cipher
    assert good.client_cert == der(client_cert)


async def test_tlslite_async_and_prompt_stop(pki: Pki, leaf: IssuedCert) -> None:
    server = TlsliteServer(cert=leaf)
    async with server:
        # a client that connects and says nothing: stop() must not wait for it
        idle = await trio.open_tcp_stream(*server.address)
        start = trio.current_time()
    assert trio.current_time() - start < 1.5
    await idle.aclose()


def test_tlslite_bad_configuration(leaf: IssuedCert) -> None:
    with pytest.raises(LabServerError):
        TlsliteServer(cert=leaf, cipher_names=("nonsense",)).start()
    with pytest.raises(LabServerError):
        TlsliteServer(cert=leaf, min_version=0x0304, max_version=0x0301).start()


# -- stdlib ssl ----------------------------------------------------------------------


def test_stdlib_server_sends_the_alert(pki: Pki, leaf: IssuedCert) -> None:
    """No shared cipher: the server answers the ClientHello with handshake_failure."""
    with StdlibSSLServer(cert=leaf, max_version=0x0303, ciphers="ECDHE-RSA-AES128-GCM-SHA256") as s:
        # a client offering only ChaCha20, which this server does not enable
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        ctx = client_context(max_version=0x0303, ciphers="ECDHE-RSA-CHACHA20-POLY1305")
        obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
        with pytest.raises(ssl.SSLWantReadError):
            obj.do_handshake()
        hello = outgoing.read()
        with socket.create_connection(s.address, timeout=5) as sock:
            sock.sendall(hello)
            reply = recv_all(sock)
        (record,) = s.wait_for_records(1)
    # alert record, fatal (2), handshake_failure (40): RFC 8446 §6
    assert reply[:1] == b"\x15" and reply[5:7] == b"\x02\x28"
    assert not record.ok and record.error == "NO_SHARED_CIPHER"


def test_stdlib_server_client_certificates_and_sni(
    pki: Pki, leaf: IssuedCert, client_cert: IssuedCert
) -> None:
    seen = []

    def on_sni(obj, name, ctx):
        seen.append(name)

    with StdlibSSLServer(
        cert=leaf,
        verify_mode=ssl.CERT_REQUIRED,
        ca_file=pki.ca_path,
        sni_callback=on_sni,
        max_version=0x0303,
    ) as server:
        with pytest.raises(ssl.SSLError, match="HANDSHAKE_FAILURE"):
            talk(server.address, client_context(pki))
        version, _, cert, reply = talk(server.address, client_context(pki, client=client_cert))
        failed, ok = server.wait_for_records(2)
    assert version == "TLSv1.2" and cert == der(leaf) and reply.startswith(b"HTTP/1.1 200")
    assert failed.error == "PEER_DID_NOT_RETURN_A_CERTIFICATE"
    assert ok.client_cert == der(client_cert) and ok.server_name == "localhost"
    assert seen == ["localhost", "localhost"]


def test_stdlib_server_tls10(pki: Pki, leaf: IssuedCert) -> None:
    with StdlibSSLServer(cert=leaf, min_version=0x0301, max_version=0x0301) as server:
        assert talk(server.address, client_context(pki, min_version=0x0301))[0] == "TLSv1"
        assert server.wait_for_records(1)[0].version == 0x0301


# -- raw behaviours --------------------------------------------------------------------


def exchange(server: RawServer, send: bytes | None = None, timeout: float = 3.0) -> bytes:
    with socket.create_connection(server.address, timeout=timeout) as sock:
        sock.sendall(client_hello_bytes() if send is None else send)
        return recv_all(sock)


def test_raw_close_immediately_sends_fin_without_data() -> None:
    with RawServer("close_immediately") as server:
        assert exchange(server) == b""


def test_raw_reset() -> None:
    with RawServer("reset") as server:
        with pytest.raises(ConnectionResetError):
            exchange(server)
        assert server.wait_for_received(1)[0][:1] == b"\x16"


def test_raw_never_answer_holds_and_stops_promptly() -> None:
    server = RawServer("never_answer").start()
    with socket.create_connection(server.address, timeout=0.3) as sock:
        sock.sendall(client_hello_bytes())
        with pytest.raises(TimeoutError):
            sock.recv(1)
        start = time.monotonic()
        server.stop()
        assert time.monotonic() - start < 1.0
        assert sock.recv(1) == b""


@pytest.mark.parametrize(
    ("behaviour", "starts_with"),
    [
        ("http", b"HTTP/1.1 400 Bad Request\r\n"),
        ("ssh_banner", b"SSH-2.0-OpenSSH_9.6\r\nInvalid SSH"),
    ],
)
def test_raw_other_protocols(behaviour: str, starts_with: bytes) -> None:
    with RawServer(behaviour) as server:
        assert exchange(server).startswith(starts_with)


def test_raw_banners_arrive_before_the_client_speaks() -> None:
    with RawServer("ssh_banner") as ssh, RawServer("smtp_banner") as smtp:
        for server, banner in (
            (ssh, b"SSH-2.0-OpenSSH_9.6\r\n"),
            (smtp, b"220 mail.example ESMTP\r\n"),
        ):
            with socket.create_connection(server.address, timeout=3) as sock:
                assert sock.recv(100) == banner


def test_raw_garbage_is_not_tls() -> None:
    with RawServer("garbage", size=300, seed=1) as server:
        data = exchange(server)
    assert len(data) == 300
    assert data[0] not in range(20, 25) and data[0] < 0x80


def test_raw_drip_sends_a_header_then_trickles() -> None:
    with RawServer("drip", interval=0.05) as server:
        with socket.create_connection(server.address, timeout=3) as sock:
            sock.sendall(client_hello_bytes())
            assert sock.recv(5) == b"\x16\x03\x03\x00\x4a"
            start = time.monotonic()
            got = b""
            while len(got) < 4:
                got += sock.recv(1)
            assert time.monotonic() - start >= 0.12
            assert got == b"\x02\x00\x00\x46"


def test_raw_endless_keeps_streaming() -> None:
    with RawServer("endless") as server:
        with socket.create_connection(server.address, timeout=3) as sock:
            sock.sendall(client_hello_bytes())
            data = b""
            while len(data) < 200_000:
                data += sock.recv(65536)
    assert data.startswith(b"\x16\x03\x03\x40\x00")


def test_raw_replay_and_alert() -> None:
    flight = b"\x16\x03\x03\x00\x04\x0e\x00\x00\x00"  # a lone ServerHelloDone
    with RawServer(replay(flight)) as server:
        assert exchange(server) == flight
        (hello,) = server.received
        assert hello[:1] == b"\x16" and len(hello) == 5 + int.from_bytes(hello[3:5], "big")
    with RawServer(alert(2, 70, 0x0301)) as server:
        assert exchange(server) == b"\x15\x03\x01\x00\x02\x02\x46"
    with RawServer("alert", level=1, description=112) as server:
        assert exchange(server) == b"\x15\x03\x03\x00\x02\x01\x70"
        assert str(server.config) == "alert(level=1, description=112, version=771)"


def test_raw_unknown_behaviour() -> None:
    with pytest.raises(LabServerError, match="unknown raw behaviour"):
        RawServer("teapot")


async def test_raw_server_async_many_clients() -> None:
    async with RawServer("http") as server:

        async def one() -> None:
            stream = await trio.open_tcp_stream(*server.address)
            await stream.send_all(b"hello\r\n\r\n")
            data = b""
            while chunk := await stream.receive_some(4096):
                data += chunk
            assert data.startswith(b"HTTP/1.1 400")
            await stream.aclose()

        async with trio.open_nursery() as nursery:
            for _ in range(10):
                nursery.start_soon(one)
    assert len(server.received) == 10


# -- the pytest plugin's fixtures --------------------------------------------------------


def test_plugin_fixtures(openssl_server, tlslite_server, stdlib_ssl_server, raw_server, lab_pki):
    ctx = client_context(lab_pki)
    assert talk(openssl_server(www=True).address, ctx)[3].startswith(b"HTTP/1.0 200")
    assert talk(tlslite_server().address, ctx)[3].startswith(b"HTTP/1.1 200")
    assert talk(stdlib_ssl_server().address, ctx)[3].startswith(b"HTTP/1.1 200")
    assert exchange(raw_server("alert", description=80)) == b"\x15\x03\x03\x00\x02\x02\x50"
