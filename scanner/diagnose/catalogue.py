# The fixed text of every finding: severity, title, cause, resolution and the Windows error
# a user may be looking at. One entry per finding id; the functions in connectivity.py,
# protocols.py, certificates.py and client_auth.py decide *whether* a finding applies and
# write its evidence from the scan result; the words here never change with the data.
#
# Rules kept: every resolution names the concrete place to change (a registry path, a
# config directive, a store, a command) on the server side and, where one exists, on the
# client side. docs/findings.md is generated from this table by tools/gen_findings_doc.py.
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from scanner.options import SEVERITIES

__all__ = ["CATALOGUE", "Entry", "entry"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Entry:
    """The fixed text of one finding. ``severity`` is the default; a few findings choose a
    severity from the data (documented in their function and in ``severity_note``)."""

    id: str
    severity: str
    title: str
    cause: str
    resolution: str
    windows_error: str | None = None
    topic: str = ""
    severity_note: str = ""


_SCHANNEL_PROTOCOLS = r"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols"

_ENTRIES = (
    # -- connectivity ----------------------------------------------------------------------
    Entry(
        id="dns.unresolved",
        topic="Connectivity",
        severity="critical",
        title="The host name does not resolve",
        cause="The name could not be turned into an IP address, so no connection was attempted.",
        resolution=(
            "Check the spelling of the name and that it exists in DNS: `nslookup NAME` (Windows) "
            "or `dig NAME` / `getent hosts NAME` (Linux). On the client, check the DNS servers it "
            "uses and any hosts-file entry (C:\\Windows\\System32\\drivers\\etc\\hosts, /etc/hosts). "
            "If the name is internal, scan from a machine that uses the internal DNS, or give the "
            "address explicitly."
        ),
    ),
    Entry(
        id="port.closed",
        topic="Connectivity",
        severity="critical",
        title="The port is closed (connection refused)",
        cause=(
            "The host answered the TCP connection attempt with a reset: nothing listens on this "
            "port on this address, or a firewall rejects the connection."
        ),
        resolution=(
            "On the server, check that the service is running and listening on this address and "
            "port: `netstat -ano | findstr :PORT` (Windows) or `ss -ltnp 'sport = :PORT'` (Linux). "
            "A service bound to 127.0.0.1 or to another IP address is not reachable on this one: "
            "bind it to the address you connect to (for IIS, check the site's HTTPS binding: IP "
            "address and port). Check the host firewall (Windows Defender Firewall inbound rules, "
            "`iptables -L` / `nft list ruleset`). On the client, check the port number you use."
        ),
    ),
    Entry(
        id="port.unreachable",
        topic="Connectivity",
        severity="critical",
        title="The host or network is unreachable",
        cause=(
            "The network reported that the address cannot be reached (no route to the host, "
            "network down, or an ICMP unreachable from a router or firewall)."
        ),
        resolution=(
            "Check the route from the client to the server (`tracert ADDRESS` on Windows, "
            "`traceroute ADDRESS` / `ip route get ADDRESS` on Linux), that the server is up, and "
            "any firewall or VPN between them. If the name resolves to an IPv6 address the client "
            "cannot route, connect over IPv4 or fix the IPv6 route."
        ),
    ),
    Entry(
        id="port.timeout",
        topic="Connectivity",
        severity="critical",
        title="No answer on the port",
        cause=(
            "Either the TCP connection was never answered (a firewall silently drops the packets, "
            "or the host is down), or TCP connected but the service never answered the "
            "ClientHello (it waits for the client to speak another protocol first, it is hung, or "
            "something in the path swallows TLS). The evidence says which."
        ),
        resolution=(
            "No TCP answer: check the firewalls on the path and on the host (a DROP rule gives a "
            "timeout, a REJECT rule a refusal), security groups, and that the host is up; "
            "`Test-NetConnection HOST -Port PORT` (Windows) or `nc -vz HOST PORT` (Linux) tests TCP "
            "alone. TCP connects but no TLS answer: check what listens on the port on the server "
            "(`netstat -ano` / `ss -ltnp`); a service that expects STARTTLS (SMTP, IMAP, POP3, FTP, "
            "LDAP) needs its plain-text greeting first, so use the implicit-TLS port instead (465, "
            "993, 995, 990, 636); a TLS-inspecting proxy or IPS in the path can also hold the "
            "connection."
        ),
    ),
    Entry(
        id="scan.partial",
        topic="Connectivity",
        severity="info",
        title="The scan did not finish before the endpoint deadline",
        cause=(
            "The server answers, but slowly or with many connections to go (a server that "
            "picks suites it was not offered is asked one suite per connection), so the "
            "endpoint deadline (`--endpoint-timeout`, 120 s by default) ended the scan. Every "
            "fact a finished probe established is in the result; what is missing is named "
            "per version (\"enumeration incomplete\")."
        ),
        resolution=(
            "Scan again with a longer `--endpoint-timeout` (and a higher `--per-endpoint` if "
            "the server allows more connections at once). On the server, find why each answer "
            "takes long: an overloaded or rate-limited service, a slow key exchange, a "
            "TLS-inspecting device in the path."
        ),
    ),
    Entry(
        id="port.not_tls",
        topic="Connectivity",
        severity="critical",
        title="Another protocol answers on this port",
        cause=(
            "The port answered, but not with TLS: another service is listening on it (a plain "
            "HTTP site, SSH, a mail server...), or the port was taken by another process before "
            "the TLS service started."
        ),
        resolution=(
            "On the server, find the process that owns the port: `netstat -ano` (Windows; "
            "`netstat -anob` shows the program, and `tasklist /FI \"PID eq PID\"` names a PID) or "
            "`ss -ltnp` (Linux). If it is not the service you meant, stop it or move one of the "
            "two to another port, then check the TLS service's binding (IP address and port; for "
            "IIS the site's HTTPS binding). If the port is meant to speak plain HTTP, connect to "
            "the HTTPS port instead; for a STARTTLS protocol (SMTP, IMAP, POP3, FTP), use the "
            "implicit-TLS port (465, 993, 995, 990) or a client that sends STARTTLS first."
        ),
    ),
    Entry(
        id="handshake.aborted",
        topic="Connectivity",
        severity="critical",
        title="The server aborts every TLS handshake",
        cause=(
            "TCP connects, but every ClientHello, whatever the version, is answered with a "
            "connection reset, a close without an alert, or an internal_error alert (80). The "
            "TLS service cannot use its certificate: most often it has no usable private key, or "
            "no certificate is bound to this IP address and port."
        ),
        resolution=(
            "On Windows/IIS: (1) Open the server certificate (certlm.msc, Personal store) and "
            "check it says \"You have a private key that corresponds to this certificate\"; if "
            "not, import the .pfx that holds the key, or re-associate the key with "
            "`certutil -repairstore my \"THUMBPRINT\"`. (2) Look in the System event log for "
            "Schannel event 36870 (\"A fatal error occurred when attempting to access the SSL "
            "server credential private key\"): error 0x80090016 means the key cannot be read - "
            "give the service account Read access to the key (certificate > All Tasks > Manage "
            "Private Keys) and check the permissions of "
            "C:\\ProgramData\\Microsoft\\Crypto\\RSA\\MachineKeys; 0x8009001a means the key set is "
            "damaged - replace the certificate (test with a self-signed one first). (3) Check the "
            "HTTP.sys binding: `netsh http show sslcert` (IIS 6: `httpcfg query ssl`); a binding "
            "for this IP:port with an empty hash or an all-zero application GUID "
            "{00000000-0000-0000-0000-000000000000} is broken: delete it (`netsh http delete "
            "sslcert ipport=0.0.0.0:443`; IIS 6: `httpcfg delete ssl -i 0.0.0.0:443`) and bind the "
            "certificate again from the site's HTTPS binding (or `netsh http add sslcert "
            "ipport=0.0.0.0:443 certhash=THUMBPRINT appid={GUID}`), then `net stop http /y` and "
            "start IIS. On OpenSSL servers (nginx, Apache, HAProxy): check the error log at "
            "start-up for a key that does not match the certificate or cannot be read "
            "(`openssl x509 -noout -pubkey -in cert.pem` must equal `openssl pkey -pubout -in "
            "key.pem`)."
        ),
        windows_error=(
            "Schannel event 36870 on the server, error 0x80090016 (NTE_BAD_KEYSET) or "
            "0x8009001a (NTE_KEYSET_ENTRY_BAD)"
        ),
    ),
    Entry(
        id="handshake.rejected",
        topic="Connectivity",
        severity="critical",
        title="The server refuses every ClientHello with an alert",
        cause=(
            "The server speaks TLS but answered every version the scanner offered with a fatal "
            "alert: it accepts none of the protocol versions, cipher suites or extensions offered "
            "(for example it is restricted to suites or key types no common client offers), or it "
            "rejects the connection by policy."
        ),
        resolution=(
            "Read the alerts in the evidence: protocol_version (70) means the server is limited to "
            "versions that were not offered; handshake_failure (40) or insufficient_security (71) "
            "means no cipher suite or key exchange in common - compare the server's allowed "
            "suites (nginx `ssl_ciphers`, Apache `SSLCipherSuite`, OpenSSL `CipherString`, Windows "
            "`Get-TlsCipherSuite` / the SSL Cipher Suite Order group policy) with what clients "
            "offer; access_denied (49) is an access rule. Check the server's error log at the "
            "time of the scan for the reason it gives."
        ),
        windows_error="0x80090331 (SEC_E_ALGORITHM_MISMATCH) on a Windows client",
    ),
    Entry(
        id="sni.required",
        topic="Connectivity",
        severity="medium",
        title="The server needs SNI to serve the right certificate",
        cause=(
            "A client that does not send the server_name (SNI) extension, or sends a name the "
            "server does not know, fails (alert unrecognized_name 112 or no handshake) or gets "
            "another site's certificate. Old clients (Windows XP, Java 6, some embedded and IoT "
            "clients, scripts connecting by IP address) do not send SNI."
        ),
        resolution=(
            "Server side: give the address a default certificate that is valid for the name "
            "clients use (IIS: a binding without \"Require Server Name Indication\" or the "
            "\"All Unassigned\" binding; nginx: `listen 443 ssl default_server` on the right "
            "server block; Apache: the first <VirtualHost> for the address is the default), or a "
            "dedicated IP address for this site. Client side: connect by host name, not by IP "
            "address, and use a TLS library that sends SNI (OpenSSL `-servername`, Java 7+, "
            "Windows Vista+)."
        ),
    ),
    Entry(
        id="sni.name_unknown",
        topic="Connectivity",
        severity="high",
        title="The server does not know this name",
        cause=(
            "Every handshake that names the site in server_name (SNI) is refused, with "
            "unrecognized_name (112) or another alert, while a handshake without SNI succeeds: "
            "the server (or the load balancer or CDN in front of it) has no site, certificate "
            "or binding for this name. Clients using this name fail; clients connecting by IP "
            "address get the default site."
        ),
        resolution=(
            "Add the name to the server's configuration: an IIS HTTPS binding with this host "
            "name, an nginx `server_name` / Apache `ServerName` or `ServerAlias` in the TLS "
            "virtual host, the hostname on the load balancer's or CDN's certificate and routing. "
            "Check that the client uses the name you configured (a typo, www. or not)."
        ),
    ),
    # -- protocols and cipher suites ------------------------------------------------------
    Entry(
        id="protocol.no_common_version",
        topic="Protocols and cipher suites",
        severity="critical",
        title="No protocol version in common with the client",
        cause=(
            "The server only accepts protocol versions the client does not offer (for example a "
            "client limited to TLS 1.1 and 1.2 and an old server limited to TLS 1.0), so the "
            "handshake fails before any certificate is exchanged."
        ),
        resolution=(
            "Server side (preferred): enable TLS 1.2 (and 1.3) on the server. On Windows, under "
            f"{_SCHANNEL_PROTOCOLS}\\TLS 1.2\\Server set the DWORD `Enabled` to 1 and "
            "`DisabledByDefault` to 0 (a value of 0 for `Enabled` disables the protocol), then "
            "reboot; very old Windows/IIS versions (IIS 6, Windows Server 2003) cannot do TLS 1.2 "
            "and must be upgraded. On nginx set `ssl_protocols TLSv1.2 TLSv1.3;`, on Apache "
            "`SSLProtocol -all +TLSv1.2 +TLSv1.3`, and for OpenSSL-wide defaults `MinProtocol = "
            "TLSv1.2` in the system openssl.cnf. Client side (only as a stop-gap): allow the "
            "server's version in the client (the same SCHANNEL registry keys under \\Client; for "
            ".NET Framework set `SchUseStrongCrypto` and `SystemDefaultTlsVersions` = 1 under "
            "HKLM\\SOFTWARE\\Microsoft\\.NETFramework\\v4.0.30319; Java `jdk.tls.client.protocols`; "
            "OpenSSL `MinProtocol` in openssl.cnf)."
        ),
        windows_error="0x80090331 (SEC_E_ALGORITHM_MISMATCH)",
    ),
    Entry(
        id="protocol.deprecated",
        topic="Protocols and cipher suites",
        severity="medium",
        severity_note="critical when SSLv2 is accepted, high for SSLv3, medium for TLS 1.0/1.1",
        title="A deprecated protocol version is accepted",
        cause=(
            "The server accepts SSL 2.0, SSL 3.0, TLS 1.0 or TLS 1.1. SSL 2.0 and 3.0 are broken "
            "(DROWN, POODLE); TLS 1.0 and 1.1 are deprecated by RFC 8996 and refused by current "
            "browsers and by PCI DSS."
        ),
        resolution=(
            "Disable the listed versions on the server after checking that no client still needs "
            f"them. Windows: under {_SCHANNEL_PROTOCOLS}\\<version>\\Server (for example "
            "`SSL 3.0`, `TLS 1.0`) set the DWORD `Enabled` to 0 and `DisabledByDefault` to 1, then "
            "reboot. nginx: `ssl_protocols TLSv1.2 TLSv1.3;`. Apache: `SSLProtocol -all +TLSv1.2 "
            "+TLSv1.3`. OpenSSL: `MinProtocol = TLSv1.2`. Clients that still need TLS 1.0 must be "
            "upgraded (enable TLS 1.2 in them: see protocol.no_common_version)."
        ),
    ),
    Entry(
        id="cipher.no_common_suite",
        topic="Protocols and cipher suites",
        severity="critical",
        title="No cipher suite in common with the client",
        cause=(
            "The client and server share a protocol version, but none of the cipher suites the "
            "client offers is accepted by the server in that version, so the server answers "
            "handshake_failure (40)."
        ),
        resolution=(
            "Add to the server's list at least one suite the client offers (a modern AEAD suite "
            "such as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 is the usual common ground). Windows: "
            "`Enable-TlsCipherSuite -Name NAME` or the group policy Computer Configuration > "
            "Administrative Templates > Network > SSL Configuration Settings > SSL Cipher Suite "
            "Order (HKLM\\SOFTWARE\\Policies\\Microsoft\\Cryptography\\Configuration\\SSL\\00010002). "
            "nginx: `ssl_ciphers`, Apache: `SSLCipherSuite`, OpenSSL: `CipherString` / "
            "`Ciphersuites`. Check also that the certificate's key type fits the suites (an ECDSA "
            "certificate cannot serve *_RSA_* suites). Client side: enable suites the server "
            "accepts (the list in the evidence)."
        ),
        windows_error="0x80090331 (SEC_E_ALGORITHM_MISMATCH)",
    ),
    Entry(
        id="cipher.weak",
        topic="Protocols and cipher suites",
        severity="high",
        severity_note="high for NULL, anonymous, export, RC4 or DES suites; medium for 3DES or MD5 only",
        title="Weak cipher suites are accepted",
        cause=(
            "The server accepts suites without encryption (NULL), without authentication "
            "(anonymous), export-grade, RC4 (RFC 7465), single DES, 3DES (Sweet32) or with an MD5 "
            "MAC. A client that prefers or is forced into them gets no real protection."
        ),
        resolution=(
            "Remove the listed suites from the server's configuration. Windows: "
            "`Disable-TlsCipherSuite -Name NAME`, and the ciphers under "
            "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL\\Ciphers (for "
            "example `RC4 128/128`, `Triple DES 168`: DWORD `Enabled` = 0). nginx/Apache/OpenSSL: "
            "a cipher string such as `ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL:!eNULL:!EXPORT:"
            "!RC4:!DES:!3DES:!MD5` in `ssl_ciphers` / `SSLCipherSuite`."
        ),
    ),
    Entry(
        id="dh.weak",
        topic="Protocols and cipher suites",
        severity="medium",
        severity_note="high below 1024 bits, medium below 2048 bits",
        title="Weak Diffie-Hellman parameters",
        cause=(
            "The server uses a DHE prime smaller than 2048 bits (Logjam). Modern clients refuse "
            "primes below 1024 bits (Java and Chrome fail the handshake), and 1024-bit groups are "
            "within reach of a well-funded attacker."
        ),
        resolution=(
            "Use a 2048-bit or larger group (RFC 7919 ffdhe2048), or prefer ECDHE suites and drop "
            "DHE. nginx: `ssl_dhparam` with a file from `openssl dhparam -out dh.pem 2048`; "
            "Apache: `SSLOpenSSLConfCmd DHParameters dh.pem`; Windows: the DWORD "
            "`ServerMinKeyBitLength` = 2048 under HKLM\\SYSTEM\\CurrentControlSet\\Control\\"
            "SecurityProviders\\SCHANNEL\\KeyExchangeAlgorithms\\Diffie-Hellman."
        ),
    ),
    Entry(
        id="tls.no_forward_secrecy",
        topic="Protocols and cipher suites",
        severity="medium",
        title="No forward secrecy",
        cause=(
            "Neither TLS 1.3 nor any ECDHE/DHE suite is accepted: every session key is sent "
            "encrypted with the certificate's RSA key, so whoever obtains that key later can "
            "decrypt recorded traffic."
        ),
        resolution=(
            "Enable ECDHE suites (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 and friends) and TLS 1.3 "
            "on the server and put them first: nginx `ssl_ciphers ECDHE+AESGCM:...`, Apache "
            "`SSLCipherSuite`, Windows the SSL Cipher Suite Order policy or `Enable-TlsCipherSuite`."
        ),
    ),
    Entry(
        id="tls.server_violation",
        topic="Protocols and cipher suites",
        severity="medium",
        title="The server breaks the TLS negotiation rules",
        cause=(
            "The server chose a cipher suite the client did not offer, answered with a version "
            "it was not asked for (RFC 5246 section 7.4.1.3, RFC 8446 section 4.1.3), or sent an "
            "extension twice in its ServerHello (RFC 5246 section 7.4.1.4, RFC 8446 section 4.2). "
            "Strict clients abort such handshakes (illegal_parameter 47, protocol_version 70 or "
            "decode_error 50), so some clients fail while others work."
        ),
        resolution=(
            "Upgrade the server's TLS stack or the load balancer / appliance in front of it; the "
            "behaviour is a bug. Until then, configure the server's suite and version lists "
            "explicitly so that it has no reason to pick outside the client's offer."
        ),
    ),
    Entry(
        id="tls.insecure_renegotiation",
        topic="Protocols and cipher suites",
        severity="medium",
        title="Secure renegotiation is not supported",
        cause=(
            "The server's ServerHello carries no renegotiation_info extension (RFC 5746): it is "
            "either exposed to the renegotiation attack (CVE-2009-3555) or refuses "
            "renegotiation, and clients that require RFC 5746 refuse it."
        ),
        resolution=(
            "Update the server's TLS library (every stack since 2010 supports RFC 5746). On "
            "Windows install the current updates (KB977377 and later); on OpenSSL servers "
            "upgrade OpenSSL."
        ),
    ),
    Entry(
        id="tls.compression",
        topic="Protocols and cipher suites",
        severity="high",
        title="TLS compression is enabled (CRIME)",
        cause=(
            "The server accepted a compression method other than null. TLS compression leaks "
            "secrets such as cookies through the size of encrypted records (CRIME)."
        ),
        resolution=(
            "Disable TLS compression: OpenSSL `Options -Compression` / `SSL_OP_NO_COMPRESSION` "
            "(the default since OpenSSL 1.1.0), Apache `SSLCompression off`; upgrade the TLS "
            "library if it cannot be turned off."
        ),
    ),
    Entry(
        id="tls.fallback_scsv_missing",
        topic="Protocols and cipher suites",
        severity="low",
        title="Downgrade protection (TLS_FALLBACK_SCSV) is missing",
        cause=(
            "A ClientHello with TLS_FALLBACK_SCSV and a version below the server's best was "
            "accepted instead of being refused with inappropriate_fallback (86), as RFC 7507 "
            "requires. An attacker can push clients that retry with lower versions down to them."
        ),
        resolution=(
            "Upgrade the server's TLS stack (OpenSSL 1.0.1j or later supports RFC 7507), or "
            "disable the lower versions (see protocol.deprecated)."
        ),
    ),
    Entry(
        id="tls.no_ems",
        topic="Protocols and cipher suites",
        severity="info",
        title="No extended master secret (RFC 7627)",
        cause=(
            "The server's TLS 1.2-or-earlier ServerHello carries no extended_master_secret "
            "extension, so those sessions are exposed to the triple-handshake attack; FIPS "
            "140-3 and some clients require it for TLS 1.2."
        ),
        resolution=(
            "Upgrade the server's TLS library (OpenSSL 1.1.0+, Windows 10 / Server 2016+ support "
            "it), or use TLS 1.3, where the master secret is always bound to the transcript."
        ),
    ),
    # -- certificates ---------------------------------------------------------------------
    Entry(
        id="cert.untrusted_root",
        topic="Certificates",
        severity="high",
        title="The certificate chain ends at an untrusted root",
        cause=(
            "The chain leads to a root CA that is not in the trust store used for the scan, so "
            "clients with the same trust store refuse the certificate (the operating system "
            "does not trust the server certificate)."
        ),
        resolution=(
            "Server side: serve a certificate from a CA the clients already trust (a public CA, "
            "or your enterprise CA if every client trusts it). Client side: add the issuing CA's "
            "root certificate to the client's trust store - on Windows the Trusted Root "
            "Certification Authorities folder of the LOCAL COMPUTER store (certlm.msc, or "
            "`certutil -addstore Root root.cer`), not the current user store; on Linux the "
            "distribution store (`update-ca-certificates` / `update-ca-trust`); for Java the "
            "JRE's cacerts (`keytool -importcert`)."
        ),
        windows_error="0x800b0109 (CERT_E_UNTRUSTEDROOT)",
    ),
    Entry(
        id="cert.self_signed",
        topic="Certificates",
        severity="high",
        severity_note="high when the chain is untrusted; low when your trust store holds the certificate",
        title="The server certificate is self-signed",
        cause=(
            "The leaf certificate is signed by its own key: no CA vouches for it, so only clients "
            "that were told to trust this exact certificate accept it."
        ),
        resolution=(
            "Server side: replace it with a certificate issued by a CA the clients trust. Client "
            "side (test and internal systems only): add this certificate to the client's trust "
            "store - on Windows the Trusted Root Certification Authorities folder of the LOCAL "
            "COMPUTER store, not the current user store."
        ),
        windows_error="0x800b0109 (CERT_E_UNTRUSTEDROOT)",
    ),
    Entry(
        id="cert.incomplete_chain",
        topic="Certificates",
        severity="high",
        title="The server does not send the intermediate certificate",
        cause=(
            "The issuer of a certificate in the chain was neither sent by the server nor found in "
            "the trust store. Browsers often fetch it (AIA) or have it cached, so the site works "
            "for them, while other clients (curl, Java, Python, Windows services without network "
            "access) fail."
        ),
        resolution=(
            "Server side: install the intermediate certificate(s) named in the evidence and send "
            "them after the leaf (nginx: `ssl_certificate` must point to the full chain, leaf "
            "first; Apache 2.4.8+: the same in `SSLCertificateFile`; IIS/Windows: import the "
            "intermediate into the Intermediate Certification Authorities store of the local "
            "computer). The CA's download page, or the caIssuers URL in the evidence, gives the "
            "certificate. Client side: add the intermediate to the client's intermediate store."
        ),
        windows_error="0x800b010a (CERT_E_CHAINING)",
    ),
    Entry(
        id="cert.hostname_mismatch",
        topic="Certificates",
        severity="high",
        title="The certificate is not valid for the host name",
        cause=(
            "The name the client connects to is not among the certificate's subjectAltName "
            "entries (nor its common name (CN), for old clients that read the CN)."
        ),
        resolution=(
            "Server side: get a certificate whose subjectAltName includes the exact name clients "
            "use (for https://mydevice.contoso.com:5358/ that is mydevice.contoso.com), or bind "
            "the right certificate to this site or SNI name. Client side: connect with a name "
            "the certificate holds (the list in the evidence), not with an IP address or an alias."
        ),
        windows_error="0x800b010f (CERT_E_CN_NO_MATCH)",
    ),
    Entry(
        id="cert.expired",
        topic="Certificates",
        severity="critical",
        title="A certificate in the chain has expired",
        cause="A certificate's notAfter date is in the past, so every client refuses the chain.",
        resolution=(
            "Server side: renew the certificate named in the evidence and install it (with its "
            "current intermediates); on IIS update the site's HTTPS binding to the new "
            "certificate. If an intermediate or root expired, download the CA's current chain. "
            "Client side: check the client's clock if the dates look right."
        ),
        windows_error="0x800b0101 (CERT_E_EXPIRED)",
    ),
    Entry(
        id="cert.not_yet_valid",
        topic="Certificates",
        severity="critical",
        title="A certificate in the chain is not valid yet",
        cause="A certificate's notBefore date is in the future for the time of the scan.",
        resolution=(
            "Check the clocks: a client or server clock that is wrong (a dead CMOS battery, no "
            "NTP: `w32tm /resync` on Windows, `timedatectl` on Linux) makes a fresh certificate "
            "look not yet valid. If the clock is right, the certificate was issued with a future "
            "start date: wait, or reissue it."
        ),
        windows_error="0x800b0101 (CERT_E_EXPIRED)",
    ),
    Entry(
        id="cert.wrong_usage",
        topic="Certificates",
        severity="high",
        title="The certificate is not meant for server authentication",
        cause=(
            "The leaf's extended key usage does not include Server Authentication "
            "(1.3.6.1.5.5.7.3.1), its key usage does not allow the key exchange, or a CA in the "
            "chain restricts its usages."
        ),
        resolution=(
            "Server side: reissue the certificate from a template or profile that includes "
            "Server Authentication (Windows CA: the Web Server template; OpenSSL: "
            "`extendedKeyUsage = serverAuth`, `keyUsage = digitalSignature, keyEncipherment`). "
            "On Windows also check the certificate's own properties: open the certificate, "
            "Details > Edit Properties..., General tab: select \"Enable all purposes for this "
            "certificate\", and make sure Server Authentication is in the list."
        ),
        windows_error="0x800b0110 (CERT_E_WRONG_USAGE)",
    ),
    Entry(
        id="cert.weak_key",
        topic="Certificates",
        severity="high",
        title="A certificate has a weak key",
        cause=(
            "A certificate in the chain has an RSA or DSA key below 2048 bits or an EC key below "
            "224 bits; current clients and CAs refuse them."
        ),
        resolution=(
            "Server side: generate a new key (RSA 2048+ or ECDSA P-256) and get the certificate "
            "reissued: `openssl req -new -newkey rsa:3072 -nodes -keyout key.pem -out req.csr`, "
            "or on Windows a new request with Key length 2048 or more."
        ),
    ),
    Entry(
        id="cert.weak_signature",
        topic="Certificates",
        severity="high",
        title="A certificate is signed with a weak hash",
        cause=(
            "A certificate in the chain (other than the self-signed root) is signed with SHA-1, "
            "MD5 or MD2, which current clients refuse (Windows and browsers reject SHA-1 TLS "
            "certificates)."
        ),
        resolution=(
            "Server side: have the certificate (or the intermediate) reissued with SHA-256 or "
            "better; replace an old intermediate with the CA's current SHA-256 one."
        ),
    ),
    Entry(
        id="cert.cn_only",
        topic="Certificates",
        severity="medium",
        title="The certificate has no subjectAltName",
        cause=(
            "The leaf names the host only in its common name (CN). Since RFC 6125 (and Chrome 58, "
            "Firefox 48, Go 1.15, Python 3.7+) clients ignore the CN and refuse such a "
            "certificate with a name mismatch."
        ),
        resolution=(
            "Server side: reissue the certificate with the host name(s) in subjectAltName DNS "
            "entries (OpenSSL: `-addext \"subjectAltName=DNS:host.example.com\"`)."
        ),
        windows_error="0x800b010f (CERT_E_CN_NO_MATCH) in clients that ignore the CN",
    ),
    Entry(
        id="cert.chain_order",
        topic="Certificates",
        severity="low",
        title="The chain is sent in the wrong order",
        cause=(
            "The certificates are not sent leaf first, each followed by its issuer (RFC 5246 "
            "section 7.4.2). TLS 1.3 and most clients cope, some older clients (Java 7, embedded "
            "stacks) fail."
        ),
        resolution=(
            "Server side: put the certificates in the chain file in order: leaf, then the "
            "intermediate that signed it, then the next one up."
        ),
    ),
    Entry(
        id="cert.extra_certs",
        topic="Certificates",
        severity="info",
        title="The server sends certificates that are not part of the chain",
        cause=(
            "A certificate the server sends is duplicated or does not belong to the path from "
            "the leaf to the root (an old intermediate, another site's chain). It costs bytes "
            "in every handshake and may confuse strict clients."
        ),
        resolution="Server side: remove the listed certificates from the chain file.",
    ),
    Entry(
        id="cert.invalid",
        topic="Certificates",
        severity="high",
        title="The chain fails validation",
        cause=(
            "The verifier refused the chain for a reason not covered by another finding (for "
            "example a name constraint, a missing basicConstraints, an unsupported key or a "
            "certificate it cannot decode). A chain to a root of the system store is judged by "
            "the WebPKI profile; a chain to a root of --ca-file by RFC 5280 path validation."
        ),
        resolution=(
            "Read the verifier's message in the evidence; have the certificate reissued by the "
            "CA if it breaks the rule named there."
        ),
    ),
    Entry(
        id="cert.webpki_deviation",
        topic="Certificates",
        severity="low",
        title="The chain breaks a WebPKI rule (trusted under RFC 5280)",
        cause=(
            "The chain reaches a root of your --ca-file and passes RFC 5280 path validation, "
            "which is what OpenSSL, curl, Python, Java and Windows SChannel check when that root "
            "is installed; but it breaks a rule of the stricter WebPKI profile (CA/Browser Forum "
            "Baseline Requirements), named in the evidence. Strict WebPKI verifiers refuse it: "
            "rustls/webpki, Python cryptography's verifier, and browsers for a public root."
        ),
        resolution=(
            "Nothing is needed for clients that trust your private root the usual way. If a "
            "strict verifier must accept it, reissue the certificate with the missing extension "
            "(for example an AuthorityKeyIdentifier: `authorityKeyIdentifier=keyid` in the "
            "OpenSSL extension section)."
        ),
    ),
    Entry(
        id="cert.revoked",
        topic="Certificates",
        severity="critical",
        title="The server certificate is revoked",
        cause="The issuing CA says (by OCSP or CRL) that the certificate was revoked.",
        resolution=(
            "Server side: get a new certificate issued (with a new key if the revocation reason "
            "is keyCompromise) and install it now; clients that check revocation refuse this one."
        ),
        windows_error="0x80092010 (CRYPT_E_REVOKED)",
    ),
    Entry(
        id="cert.revocation_unreachable",
        topic="Certificates",
        severity="medium",
        title="The revocation server cannot be reached",
        cause=(
            "Revocation cannot be checked because the certificate's OCSP responder and CRL "
            "distribution points did not answer (the revocation server was offline or is "
            "blocked). Clients that require a revocation check (Windows services, many .NET and "
            "Java setups) fail."
        ),
        resolution=(
            "Ensure the revocation server can be reached from the clients: allow outbound HTTP "
            "(port 80) from the clients (and from the server, for stapling) to the OCSP and CRL "
            "URLs in the evidence, through any proxy (`netsh winhttp show proxy` for Windows "
            "services). Test with `certutil -url cert.cer` or `certutil -verify -urlfetch "
            "cert.cer` (Windows) or `openssl ocsp -issuer ca.pem -cert cert.pem -url URL`. "
            "Enabling OCSP stapling on the server (nginx `ssl_stapling on`, IIS does it by "
            "default) spares the clients the lookup."
        ),
        windows_error="0x80092013 (CRYPT_E_REVOCATION_OFFLINE)",
    ),
    Entry(
        id="cert.revocation_unreadable",
        topic="Certificates",
        severity="medium",
        title="The revocation answer is too large to read",
        cause=(
            "The revocation status is unknown: the certificate's CRL distribution point (or OCSP "
            "responder) answered, but with a body over the size a client reads (8 MiB for a CRL, "
            "1 MiB for an OCSP response; the size seen is in the evidence). Clients that require "
            "a revocation check give up on it the same way, or spend minutes downloading it."
        ),
        resolution=(
            "CA side: publish a smaller CRL (partition it with issuing distribution points, RFC "
            "5280 section 5.2.5, or issue delta CRLs), serve OCSP, and check that the URL in the "
            "evidence returns the CRL itself and not something else (an endless or wrong file): "
            "`curl -sS -o /dev/null -w '%{size_download}' URL`. Server side: enable OCSP "
            "stapling so clients need not fetch the CRL."
        ),
        windows_error="0x80092013 (CRYPT_E_REVOCATION_OFFLINE)",
    ),
    # -- client certificates --------------------------------------------------------------
    Entry(
        id="client_auth.required",
        topic="Client certificates",
        severity="medium",
        title="The server requires a client certificate",
        cause=(
            "The server asks for a client certificate and ends the handshake when none is "
            "sent: clients without a suitable certificate fail."
        ),
        resolution=(
            "Client side: install a valid certificate for client authentication, issued by one "
            "of the acceptable CAs in the evidence, in the store the client uses (Windows: the "
            "Personal store of the LOCAL COMPUTER for services, of the user for applications), "
            "and make sure the process has access to its private key (certlm.msc > certificate "
            "> All Tasks > Manage Private Keys > Allow Read for the account running the "
            "process, for example LocalService). Server side: if client certificates should be "
            "optional, set IIS SSL Settings > Client certificates to Accept, nginx "
            "`ssl_verify_client optional`, Apache `SSLVerifyClient optional`."
        ),
        windows_error="12044 (ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED)",
    ),
    Entry(
        id="client_auth.optional",
        topic="Client certificates",
        severity="info",
        title="The server asks for an optional client certificate",
        cause=(
            "The server requests a client certificate but completes the handshake without one. "
            "Some clients (WinHTTP) still stop to look for a certificate before retrying."
        ),
        resolution=(
            "Nothing to fix unless clients fail: WinHTTP reports the request and retries; if "
            "SSL negotiation eventually fails, add a valid client certificate (from one of the "
            "acceptable CAs) to the local computer store and give the process Read access to "
            "its private key."
        ),
        windows_error="12044 (ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED)",
    ),
    Entry(
        id="client_auth.requested",
        topic="Client certificates",
        severity="info",
        title="The server requests a client certificate",
        cause=(
            "The server sent a CertificateRequest. Whether it completes the handshake without a "
            "certificate (optional) or refuses it (required) was not tested in this scan."
        ),
        resolution=(
            "If clients fail, give them a certificate from one of the acceptable CAs in the "
            "evidence (Windows: the local computer's Personal store, with Read access to the "
            "private key for the account running the client)."
        ),
        windows_error="12044 (ERROR_WINHTTP_CLIENT_AUTH_CERT_NEEDED)",
    ),
    Entry(
        id="client_auth.cert_rejected",
        topic="Client certificates",
        severity="high",
        title="The server rejects the client certificate",
        cause=(
            "A client certificate was presented and the server ended the handshake (alert, "
            "close or reset). bad_certificate (42) means the server found the certificate "
            "itself wrong (a broken signature, a missing Client Authentication usage, a key that "
            "does not match); certificate_expired (45), certificate_revoked (44) and unknown_ca "
            "(48) say why; a close or reset often means the server could not verify the chain."
        ),
        resolution=(
            "Client side: inspect the certificate named in the evidence: its dates, that its "
            "extended key usage includes Client Authentication (1.3.6.1.5.5.7.3.2), that the "
            "private key matches and is readable by the process, and that it chains to a CA "
            "the server trusts; replace it with a good certificate if it is not. Server side: "
            "the server's log (IIS: the substatus in the W3SVC log, e.g. 403.7/403.16; Apache: "
            "`LogLevel ssl:debug`) gives its reason; make sure the issuing CA and its "
            "intermediates are in the server's client-CA store (IIS: Trusted Root of the local "
            "computer; nginx `ssl_client_certificate`; Apache `SSLCACertificateFile`)."
        ),
    ),
    Entry(
        id="client_auth.issuer_not_accepted",
        topic="Client certificates",
        severity="high",
        title="The client certificate is not from a CA the server accepts",
        cause=(
            "The client presented a certificate whose issuer is not among the CAs the server "
            "lists as acceptable in its CertificateRequest; the server was expecting a "
            "different issuer and refused the handshake (often with illegal_parameter 47, "
            "unknown_ca 48 or bad_certificate 42)."
        ),
        resolution=(
            "Client side: use a certificate issued by one of the acceptable CAs in the evidence "
            "(or have one issued). Server side: if the presented issuer should be accepted, add "
            "that CA to the server's client-CA list (nginx `ssl_client_certificate` / "
            "`ssl_trusted_certificate`, Apache `SSLCACertificateFile` and `SSLCADNRequestFile`, "
            "IIS the Trusted Root store of the local computer or the binding's CTL)."
        ),
    ),
    # -- classic vulnerabilities (issue 18) ---------------------------------------------------
    Entry(
        id="vuln.heartbleed",
        topic="Vulnerabilities",
        severity="critical",
        title="Heartbleed (CVE-2014-0160): the server returns its memory in heartbeats",
        cause=(
            "The server answered a heartbeat request (RFC 6520) whose declared payload length "
            "exceeds the payload it carried with a response as long as the declared length: it "
            "copied bytes of its own memory into the answer. Those bytes can hold private keys, "
            "session keys, passwords and other users' requests. This is the OpenSSL 1.0.1 to "
            "1.0.1f bug of the OpenSSL advisory of 7 April 2014. The scan did not keep the bytes."
        ),
        resolution=(
            "Upgrade OpenSSL (1.0.1g or later; any supported release) or rebuild it with "
            "`-DOPENSSL_NO_HEARTBEATS`, restart every process using it, then treat the server's "
            "private key as compromised: issue a new key and certificate, revoke the old one, "
            "and invalidate sessions and passwords that went through the server."
        ),
    ),
    Entry(
        id="vuln.ccs_injection",
        topic="Vulnerabilities",
        severity="high",
        title="CCS injection (CVE-2014-0224): an early ChangeCipherSpec is accepted",
        cause=(
            "The server accepted a ChangeCipherSpec before any key exchange (RFC 5246 section 7.1 "
            "allows it only after the ClientKeyExchange) and switched to keys derived from an "
            "empty master secret. A man in the middle can then read and change the traffic of a "
            "vulnerable client talking to this server. OpenSSL advisory of 5 June 2014 (OpenSSL "
            "before 0.9.8za, 1.0.0m, 1.0.1h)."
        ),
        resolution=(
            "Upgrade the server's OpenSSL (or the appliance firmware embedding it) to a "
            "supported release and restart the services using it."
        ),
    ),
    Entry(
        id="vuln.robot",
        topic="Vulnerabilities",
        severity="high",
        severity_note="high for a strong oracle, medium for a weak one",
        title="ROBOT: the RSA key exchange is a Bleichenbacher padding oracle",
        cause=(
            "The server answers RSA ClientKeyExchange messages differently depending on whether "
            "their PKCS#1 v1.5 padding is correct (Bleichenbacher 1998; Böck, Somorovsky, Young, "
            "'Return Of Bleichenbacher's Oracle Threat', USENIX Security 2018). With enough "
            "queries an attacker can decrypt recorded RSA key exchange sessions or sign with the "
            "server's key. A strong oracle tells apart blocks whose first bytes are wrong; a "
            "weak one only correctly formatted blocks, and needs many more queries."
        ),
        resolution=(
            "Disable RSA key exchange suites (keep ECDHE/DHE; nginx `ssl_ciphers "
            "ECDHE+AESGCM:ECDHE+CHACHA20`, Apache `SSLCipherSuite` without `kRSA`, Windows: "
            "remove the TLS_RSA_* suites from the cipher suite order) and update the TLS stack "
            "or appliance (F5 CVE-2017-6168, Citrix CVE-2017-17382, Cisco CVE-2017-12373, "
            "wolfSSL CVE-2017-13099, ...)."
        ),
    ),
    Entry(
        id="vuln.client_renegotiation",
        topic="Vulnerabilities",
        severity="low",
        title="Client-initiated renegotiation is accepted (CVE-2011-1473)",
        cause=(
            "After a completed TLS 1.2 handshake the server agreed to renegotiate when the client "
            "asked. Each renegotiation costs the server a private-key operation and the client "
            "almost nothing, so one client can keep a server's CPU busy (THC-SSL-DOS, 2011). The "
            "renegotiation itself was secure (RFC 5746); insecure renegotiation is "
            "tls.insecure_renegotiation."
        ),
        resolution=(
            "Refuse client-initiated renegotiation: OpenSSL 3 servers do by default (do not set "
            "`SSL_OP_ALLOW_CLIENT_RENEGOTIATION` / `-client_renegotiation`); nginx and Apache 2.4 "
            "refuse it; a GnuTLS application refuses it in its own code: when gnutls_record_recv() "
            "returns GNUTLS_E_REHANDSHAKE, answer with gnutls_alert_send(session, GNUTLS_AL_WARNING, "
            "GNUTLS_A_NO_RENEGOTIATION) instead of calling gnutls_handshake() (do not use "
            "`%DISABLE_SAFE_RENEGOTIATION`: it turns off RFC 5746 and opens CVE-2009-3555); or "
            "disable TLS 1.2 renegotiation altogether (OpenSSL `SSL_OP_NO_RENEGOTIATION`). TLS 1.3 "
            "has no renegotiation."
        ),
    ),
    Entry(
        id="vuln.ticketbleed",
        topic="Vulnerabilities",
        severity="high",
        title="Ticketbleed (CVE-2016-9244): a resumed session ID carries server memory",
        cause=(
            "Resuming a session ticket (RFC 5077) with a session ID shorter than 32 bytes, the "
            "server answered with a 32-byte session ID: the bytes the client sent, then bytes of "
            "the server's memory, which can hold session secrets of other connections. This is "
            "the F5 BIG-IP bug of advisory K05121675. The scan kept only the lengths."
        ),
        resolution=(
            "Upgrade the F5 BIG-IP software to a fixed release (K05121675), or until then disable "
            "Session Ticket in the Client SSL profile (`tmsh modify ltm profile client-ssl NAME "
            "session-ticket disabled`)."
        ),
    ),
    Entry(
        id="vuln.zero_rtt",
        topic="Vulnerabilities",
        severity="low",
        title="TLS 1.3 0-RTT early data is accepted (a replay surface)",
        cause=(
            "The server's TLS 1.3 session tickets allow early data, and a resumption offering it "
            "was accepted (early_data in EncryptedExtensions). Data a client sends in 0-RTT is not "
            "protected against replay (RFC 8446 section 8): an attacker who records it can send "
            "it again. That is harmless for idempotent requests and dangerous for the others; "
            "this finding says the surface exists, not that the application is exposed."
        ),
        resolution=(
            "If the application behind the server cannot tell replayed requests apart, turn "
            "0-RTT off (nginx `ssl_early_data off;` the default, OpenSSL `SSL_CTX_set_max_early_data(ctx, 0)`, "
            "s_server without `-early_data`); otherwise accept only idempotent requests in early "
            "data (nginx passes `$ssl_early_data` so the back end can answer 425 Too Early, RFC 8470)."
        ),
    ),
    Entry(
        id="vuln.inconclusive",
        topic="Vulnerabilities",
        severity="info",
        title="A vulnerability check could not decide",
        cause=(
            "An active check ran but the server's answer proves neither case: no answer before "
            "the deadline, an alert the published test does not interpret (or not a fatal one), "
            "or (ROBOT) answers that differ between runs of the same messages, as a load balancer "
            "with different back ends gives; or the check could not be run against this server "
            "(the evidence then starts \"not tested:\" and says what it needs: a suite or key this "
            "client can use, a ticket that fits a ClientHello). The scan does not guess a verdict."
        ),
        resolution=(
            "Rerun the scan against one back end (its own address) and with longer deadlines "
            "(`--read-timeout`); if the answers stay inconsistent, check the versions of the "
            "TLS stacks behind the address against the advisories named in the evidence."
        ),
    ),
    Entry(
        id="vuln.sweet32",
        topic="Vulnerabilities",
        severity="medium",
        title="SWEET32 (CVE-2016-2183): 64-bit block cipher suites are accepted",
        cause=(
            "Suites with a 64-bit block cipher (3DES, DES, IDEA, RC2) are accepted. After about "
            "2^32 blocks (some 32 GB) in one connection, block collisions leak plaintext "
            "(Bhargavan and Leurent, CCS 2016); long-lived connections such as HTTPS keep-alive "
            "or VPNs reach that."
        ),
        resolution=(
            "Disable the listed suites: OpenSSL `!3DES:!DES:!IDEA:!RC2` in the cipher string "
            "(nginx `ssl_ciphers`, Apache `SSLCipherSuite`); Windows: disable Triple DES 168 "
            "under SCHANNEL\\Ciphers or remove TLS_RSA_WITH_3DES_EDE_CBC_SHA from the suite order."
        ),
    ),
    Entry(
        id="vuln.rc4",
        topic="Vulnerabilities",
        severity="high",
        title="RC4 suites are accepted (CVE-2013-2566, CVE-2015-2808)",
        cause=(
            "RC4's keystream biases let an attacker recover repeated plaintext such as cookies "
            "from many connections; RFC 7465 prohibits RC4 in TLS."
        ),
        resolution=(
            "Remove RC4 from the server's suites: OpenSSL `!RC4`; Windows: disable RC4 under "
            "SCHANNEL\\Ciphers (RC4 128/128, 56/128, 40/128)."
        ),
    ),
    Entry(
        id="vuln.export",
        topic="Vulnerabilities",
        severity="high",
        title="Export-grade suites are accepted (FREAK, Logjam)",
        cause=(
            "Export suites use 40- or 56-bit ciphers and 512-bit RSA or DH keys. A man in the "
            "middle can force them on clients with the FREAK (CVE-2015-0204, RSA export) or "
            "Logjam (CVE-2015-4000, DHE export) attacks and break the key in hours."
        ),
        resolution="Remove every EXPORT suite: OpenSSL `!EXP` (OpenSSL 1.1.0 and later have none).",
    ),
    Entry(
        id="vuln.null",
        topic="Vulnerabilities",
        severity="high",
        title="Suites without encryption (NULL) are accepted",
        cause=(
            "NULL-cipher suites authenticate but do not encrypt (RFC 5246 appendix F.1): a client "
            "that negotiates one sends everything in clear text."
        ),
        resolution="Remove them: OpenSSL `!eNULL` (nginx `ssl_ciphers`, Apache `SSLCipherSuite`).",
    ),
    Entry(
        id="vuln.anon",
        topic="Vulnerabilities",
        severity="high",
        title="Anonymous suites are accepted",
        cause=(
            "Anonymous (DH_anon, ECDH_anon) suites send no certificate, so nothing proves the "
            "server's identity: any man in the middle can impersonate it (RFC 5246 appendix "
            "F.1.1.1)."
        ),
        resolution="Remove them: OpenSSL `!aNULL` in the cipher string.",
    ),
    Entry(
        id="vuln.poodle",
        topic="Vulnerabilities",
        severity="high",
        title="POODLE (CVE-2014-3566): SSL 3.0 with CBC suites",
        cause=(
            "SSL 3.0 does not cover CBC padding with the MAC, so a man in the middle who can make "
            "a client send chosen requests decrypts a byte per 256 requests (Möller, Duong, "
            "Kotowicz, 2014). RFC 7568 deprecates SSL 3.0."
        ),
        resolution=(
            "Disable SSL 3.0: nginx `ssl_protocols TLSv1.2 TLSv1.3;`, Apache `SSLProtocol -all "
            "+TLSv1.2 +TLSv1.3`, Windows SCHANNEL\\Protocols\\SSL 3.0\\Server Enabled=0."
        ),
    ),
    Entry(
        id="vuln.beast",
        topic="Vulnerabilities",
        severity="low",
        title="BEAST precondition (CVE-2011-3389): CBC suites in TLS 1.0 or SSL 3.0",
        cause=(
            "TLS 1.0 and SSL 3.0 use the last ciphertext block as the next IV, which BEAST "
            "(Duong and Rizzo, 2011) exploits against the client's requests. It is a client-side "
            "attack: browsers and TLS libraries since 2012 split records (1/n-1) and are not "
            "exposed. The server only offers the precondition."
        ),
        resolution=(
            "Disable TLS 1.0 and SSL 3.0 on the server (see protocol.deprecated); clients should "
            "be kept up to date."
        ),
    ),
    Entry(
        id="vuln.crime",
        topic="Vulnerabilities",
        severity="high",
        title="CRIME (CVE-2012-4929): the server compresses TLS records",
        cause=(
            "The server chose DEFLATE compression when the vulnerability check offered it. "
            "Compressed record sizes leak secrets such as cookies to an attacker who can make the "
            "client send chosen requests (Rizzo and Duong, 2012)."
        ),
        resolution=(
            "Disable TLS compression: OpenSSL `SSL_OP_NO_COMPRESSION` (the default since 1.1.0), "
            "Apache `SSLCompression off`; upgrade a TLS library that cannot turn it off."
        ),
    ),
    Entry(
        id="vuln.lucky13",
        topic="Vulnerabilities",
        severity="info",
        title="LUCKY13 precondition (CVE-2013-0169): CBC suites offered",
        cause=(
            "CBC-mode suites are accepted. LUCKY13 (AlFardan and Paterson, 2013) recovers "
            "plaintext from timing differences in a CBC MAC check; whether this server's stack "
            "has constant-time checks cannot be seen from outside, so this is a precondition, "
            "not a verdict (current OpenSSL, GnuTLS, NSS, Schannel are fixed)."
        ),
        resolution=(
            "Prefer AEAD suites (AES-GCM, ChaCha20-Poly1305) and TLS 1.3; keep the TLS library "
            "up to date. Removing CBC suites is only needed for old clients' sake if at all."
        ),
    ),
    Entry(
        id="starttls.not_offered",
        topic="STARTTLS",
        severity="high",
        title="The server does not offer TLS in its protocol",
        cause=(
            "The server speaks its protocol (SMTP, IMAP, POP3, FTP, LDAP, XMPP, PostgreSQL, "
            "MySQL, RDP...) but does not offer to switch to TLS: its capability list has no "
            "STARTTLS, it answers StartTLS with an error, or it declines TLS outright "
            "(PostgreSQL `N`, a MySQL greeting without CLIENT_SSL). Clients either give up or "
            "carry on in plaintext, passwords and data included."
        ),
        resolution=(
            "Configure a certificate and enable TLS for the protocol: postfix "
            "`smtpd_tls_security_level = may` with `smtpd_tls_chain_files`; dovecot `ssl = yes` "
            "with `ssl_cert`/`ssl_key`; OpenLDAP `olcTLSCertificateFile` and "
            "`olcTLSCertificateKeyFile`; PostgreSQL `ssl = on`; MariaDB/MySQL `ssl_cert`, "
            "`ssl_key`; prosody `ssl = { certificate, key }`; vsftpd `ssl_enable=YES`; Exchange "
            "`Enable-ExchangeCertificate -Services SMTP`. Then rescan with `tlscompat scan "
            "--starttls PROTO HOST:PORT`."
        ),
    ),
    Entry(
        id="starttls.refused",
        topic="STARTTLS",
        severity="high",
        title="The server refuses to start TLS",
        cause=(
            "The server advertises TLS (or the protocol requires the request) but answered the "
            "request to start it with an error, e.g. SMTP `454 TLS not available due to "
            "temporary reason` (the certificate or key cannot be read, the TLS library failed "
            "to initialise) or an LDAP resultCode other than success."
        ),
        resolution=(
            "Read the server's own log at the time of the scan: the cause is nearly always "
            "there (postfix: `warning: cannot get RSA certificate from file`; dovecot: "
            "`ssl_cert: Can't open file`). Check that the certificate and key files exist, "
            "match each other and are readable by the daemon's user after it drops privileges."
        ),
    ),
    Entry(
        id="starttls.plaintext_auth",
        topic="STARTTLS",
        severity="medium",
        title="Authentication is offered before TLS",
        cause=(
            "Before TLS was started the server already offered to authenticate (SMTP AUTH, "
            "IMAP LOGIN without LOGINDISABLED, POP3 USER, SASL PLAIN) or to continue the "
            "session in plaintext (PostgreSQL answering `N`, MySQL without CLIENT_SSL). A "
            "client that does not insist on STARTTLS sends its password in the clear, and an "
            "attacker on the path can strip the STARTTLS offer to make it do so."
        ),
        resolution=(
            "Offer authentication only inside TLS: postfix `smtpd_tls_auth_only = yes`; dovecot "
            "`disable_plaintext_auth = yes` (2.4: `auth_allow_cleartext = no`); Exchange "
            "receive connectors `RequireTLS`; PostgreSQL `hostssl` lines instead of `host` in "
            "pg_hba.conf; MariaDB/MySQL `require_secure_transport = ON`. On clients, require "
            "TLS (e.g. `sslmode=verify-full`, `smtp_tls_security_level = encrypt`)."
        ),
    ),
    Entry(
        id="starttls.throttled",
        topic="STARTTLS",
        severity="info",
        title="The server throttled the scan",
        cause=(
            "The server turned connections away for load during the scan (SMTP `421`, "
            "\"too many connections\", MySQL error 1040, a close before the dialogue ended). Mail "
            "and directory servers count connections per client address; tlscompat paused "
            "with a growing, jittered delay and retried. Medium when it still could not get "
            "through: the results are then partial."
        ),
        resolution=(
            "Scan more gently: `--starttls-per-endpoint 1`, a `--rate`, or a longer "
            "`--starttls-timeout`; or allow the scanner's address on the server (postfix "
            "`smtpd_client_connection_count_limit` and `anvil_rate_time_unit`, dovecot "
            "`mail_max_userip_connections`, MariaDB `max_connections`, fail2ban's ignoreip)."
        ),
    ),
    Entry(
        id="starttls.stalled",
        topic="STARTTLS",
        severity="high",
        title="The dialogue before TLS stalled",
        cause=(
            "The server accepted the connection but did not finish its part of the dialogue "
            "before TLS within the dialogue's deadline (`--starttls-timeout`, 15 s by default): "
            "a greeting that never ends (an SMTP `220-` line with no last line), a server "
            "sending a byte at a time (a tarpit), or one waiting for something else (the wrong "
            "dialogue chosen for the port). No ClientHello was sent: nothing is known of its "
            "TLS. The evidence quotes what the server did send."
        ),
        resolution=(
            "Check the server's greeting by hand (`openssl s_client -starttls smtp -connect "
            "HOST:PORT`, or `nc HOST PORT`). A tarpit or greeting delay (postfix "
            "`postscreen_greet_wait`, sendmail `greet_pause`) may need the scanner's address "
            "allowed or a longer `--starttls-timeout`; a server that hangs mid-greeting needs "
            "its own log read and the service restarted."
        ),
    ),
    Entry(
        id="starttls.protocol_error",
        topic="STARTTLS",
        severity="high",
        title="The dialogue before TLS is malformed",
        cause=(
            "The server's reply in the dialogue before TLS breaks the protocol's rules, e.g. an "
            "SMTP line longer than 8192 bytes or a reply of more than 200 lines (RFC 5321 "
            "section 4.5.3.1 allows 512 bytes a line): a broken or hostile server, or a front "
            "end (load balancer, filter) mangling the dialogue. It will be the same on every "
            "connection; no ClientHello was sent."
        ),
        resolution=(
            "Look at the reply quoted in the evidence and at whatever sits in front of the "
            "server; a client would fail at the same point. Fix or replace the component that "
            "produces it."
        ),
    ),
    Entry(
        id="starttls.wrong_protocol",
        topic="STARTTLS",
        severity="critical",
        title="The greeting is another protocol than the chosen dialogue",
        cause=(
            "The dialogue chosen (`--starttls`, a URL scheme or the port's default) is not the "
            "one this server speaks: its greeting is recognisably another protocol (an IMAP "
            "`* OK` asked for SMTP, an SMTP `220` asked for POP3, binary bytes where a text "
            "greeting is due), or a TLS record (the port speaks TLS from the first byte). No "
            "ClientHello was sent."
        ),
        resolution=(
            "Scan again with the dialogue the evidence suggests (`--starttls imap`...), or "
            "without `--starttls` for a port that speaks TLS at once; check that the port is "
            "the service you meant."
        ),
    ),
    Entry(
        id="starttls.injection",
        topic="STARTTLS",
        severity="high",
        title="Commands sent before STARTTLS are executed inside TLS",
        cause=(
            "The server keeps plaintext it received before TLS started and processes it as if "
            "it had arrived inside the encrypted session (CVE-2011-0411 and its relatives in "
            "Postfix, Exim, Dovecot, Courier, Pure-FTPd and others, 2011 and again 2021). An "
            "attacker on the path can append commands to the client's STARTTLS and have them "
            "run in the client's protected, later authenticated, session."
        ),
        resolution=(
            "Update the server: every maintained mail and FTP server discards its input buffer "
            "when TLS starts (postfix 2.8.4 / 2.7.5 and later; Exim, Dovecot, Courier fixes "
            "referenced by CVE-2011-0411 and CVE-2021-33515, CVE-2021-38371). If you cannot "
            "update, put a TLS-terminating proxy in front that speaks implicit TLS."
        ),
    ),
    Entry(
        id="cipher.chacha_priority",
        topic="Protocols and cipher suites",
        severity="info",
        title="The server puts ChaCha20 first for clients that prefer it",
        cause=(
            "The server imposes its own cipher order, except that a client listing a "
            "ChaCha20-Poly1305 suite first gets ChaCha20 (OpenSSL's -prioritize_chacha / "
            "SSL_OP_PRIORITIZE_CHACHA, BoringSSL's equal-preference groups): phones without AES "
            "instructions get the faster cipher. The order shown is the one the server gives "
            "every other client."
        ),
        resolution=(
            "Nothing to fix: this is a deliberate and sound setting. To give every client the "
            "server's order, remove `PrioritizeChaCha` from the OpenSSL configuration "
            "(`Options = -PrioritizeChaCha`; nginx: `ssl_conf_command Options -PrioritizeChaCha`)."
        ),
    ),
    # -- intolerance: hello shapes the server fails on (issue 11) ------------------------
    Entry(
        id="intolerance.hello_length",
        topic="Intolerance",
        severity="medium",
        title="ClientHellos of some lengths get no answer",
        cause=(
            "The server (or a load balancer or firewall in front of it) fails on a ClientHello "
            "whose length falls in a range: the known case is 256 to 511 bytes, which F5 BIG-IP "
            "versions before 11.x never answer (RFC 7685 section 4). Clients whose hello falls "
            "in the range (older OpenSSL, curl, Java, and any client that adds or removes a "
            "suite or an extension) hang until their timeout; browsers pad their hellos to 512 "
            "bytes and get through. The evidence gives the lengths that failed and worked."
        ),
        resolution=(
            "Upgrade the device that terminates TLS (F5: apply the fix for ID 367113 or upgrade "
            "to 11.x or later), or take it out of the TLS path. Until then, clients can pad "
            "their hellos to at least 512 bytes: OpenSSL does it with SSL_OP_TLSEXT_PADDING "
            "(`Options = TLSEXT_PADDING` is not a config keyword: set it in code), GnuTLS with "
            "the %DUMBFW priority keyword."
        ),
    ),
    Entry(
        id="intolerance.suite_count",
        topic="Intolerance",
        severity="medium",
        title="ClientHellos with many cipher suites are refused",
        cause=(
            "The server (or a device in front of it) closes or refuses a ClientHello that lists "
            "more cipher suites than a fixed limit, although it accepts the same hello with "
            "fewer. Scanners and clients with long suite lists (Java with every suite enabled, "
            "OpenSSL with `ALL`) fail; browsers, which send about 15, get through. The evidence "
            "gives the largest count that worked."
        ),
        resolution=(
            "Upgrade or reconfigure the device that parses the ClientHello (load balancer, WAF, "
            "IPS) so that it accepts long suite lists. On clients, offer fewer suites (for "
            "OpenSSL, a `CipherString` such as `ECDHE+AESGCM:ECDHE+CHACHA20`)."
        ),
    ),
    Entry(
        id="intolerance.hello_shape",
        topic="Intolerance",
        severity="medium",
        title="The server refuses a hello that differs from a browser's",
        cause=(
            "A version was refused (silence, a close or handshake_failure) for the scanner's "
            "ClientHello but accepted for a mainstream client's (a current browser's shape), and "
            "neither its length nor its suite count explains it: an extension, a list or the "
            "version numbers make the difference. Clients that do not look like a browser "
            "(embedded stacks, older libraries, scanners) may fail the same way. The version "
            "was enumerated through the browser's shape."
        ),
        resolution=(
            "Upgrade the server's TLS stack or the device in front of it; compare the two hellos "
            "in the evidence (run the scan with --verbose) and, if one extension is at fault, "
            "report it to the vendor. RFC 8446 section 4.1.2 and RFC 5246 section 7.4.1.4 "
            "require servers to ignore extensions they do not know."
        ),
    ),
    Entry(
        id="intolerance.pq_key_share",
        topic="Intolerance",
        severity="high",
        title="A hello with a post-quantum key share fails",
        cause=(
            "Current Chrome, Edge and Firefox send an X25519MLKEM768 key share (1216 bytes) in "
            "every ClientHello, which makes the hello about 1.5 KB and splits it across two TCP "
            "segments. This server, or a device in front of it, fails on that hello although it "
            "accepts the same hello without the share: browsers that send it cannot connect, and "
            "any client that enables X25519MLKEM768 will break here."
        ),
        resolution=(
            "Find what fails on large or post-quantum hellos: often a firewall, IPS or load "
            "balancer that reads only the first TCP segment, or a TLS library that rejects an "
            "unknown key share instead of ignoring it (RFC 8446 section 4.2.8). Upgrade it "
            "(vendors fixed this in 2023-2024) or disable its TLS inspection. Clients can turn "
            "the share off while it is fixed (Chrome: the PostQuantumKeyAgreementEnabled policy; "
            "OpenSSL 3.5: a `Groups` list without X25519MLKEM768)."
        ),
    ),
    Entry(
        id="intolerance.grease",
        topic="Intolerance",
        severity="medium",
        title="GREASE values break the handshake",
        cause=(
            "The server fails on a ClientHello with GREASE values (RFC 8701: reserved values "
            "browsers put in every list so that servers keep ignoring values they do not know), "
            "although it accepts the same hello without them. Chrome and Edge send GREASE in "
            "every hello, so they cannot connect."
        ),
        resolution=(
            "Upgrade the server's TLS stack or the device in front of it: RFC 8446 section 4.1.2 "
            "and RFC 8701 require unknown suites, groups, versions and extensions to be ignored."
        ),
    ),
    Entry(
        id="intolerance.version",
        topic="Intolerance",
        severity="medium",
        title="The server fails on version numbers it should negotiate down",
        cause=(
            "The server fails on a hello announcing a version it does not know (a future 0x0305 "
            "in supported_versions, or client_version 0x0304 in a TLS 1.2 hello) instead of "
            "answering with the highest version both support (RFC 8446 section 4.2.1 and appendix "
            "D, RFC 5246 appendix E.1). Version intolerance is why clients once fell back to "
            "older versions, and it will break the next TLS version."
        ),
        resolution=(
            "Upgrade the server's TLS stack or the device in front of it; no client setting "
            "works around it safely (version fallback re-opens downgrade attacks)."
        ),
    ),
    Entry(
        id="intolerance.extension",
        topic="Intolerance",
        severity="medium",
        title="The server fails on an extension or list it should ignore",
        cause=(
            "The server fails on a hello with an unknown extension, an empty extension last (a "
            "known appliance bug), a large extension or a long signature_algorithms list, "
            "although it accepts the same hello without it. Clients that add an extension "
            "(a new browser feature, ECH, a post-quantum scheme) will break here."
        ),
        resolution=(
            "Upgrade the server's TLS stack or the device in front of it: a server must ignore "
            "extensions it does not know (RFC 5246 section 7.4.1.4, RFC 8446 section 4.2) and "
            "schemes it does not support (RFC 8446 section 4.2.3)."
        ),
    ),
    Entry(
        id="intolerance.record_layer",
        topic="Intolerance",
        severity="medium",
        title="The server fails on how the hello is framed in records",
        cause=(
            "The server fails on a ClientHello split into several records (small fragments, or a "
            "hello over 16 KB) or on a record version it should ignore, although it accepts the "
            "same hello in one record. RFC 5246 section 6.2.1 lets a handshake message span "
            "records, and large post-quantum hellos will need it."
        ),
        resolution=(
            "Upgrade the server's TLS stack or the device in front of it (load balancers and IPS "
            "that read only the first record are the usual cause)."
        ),
    ),
    Entry(
        id="intolerance.record_splitting",
        topic="Intolerance",
        severity="medium",
        title="The server application fails on a request split across records",
        cause=(
            "After a full handshake the server answered an HTTP request sent in one TLS record, "
            "but not the same request split into a 1-byte record and the rest (the 1/n-1 split "
            "that the MS12-006 update to Windows and the browsers' BEAST countermeasure use with "
            "CBC suites in SSL 3.0 / TLS 1.0). The application behind TLS handles only the first "
            "record it reads, so such clients get an empty page or \"cannot display the "
            "webpage\" (seed 001 scenario 6)."
        ),
        resolution=(
            "Fix the server application to read until the request is complete, whatever the "
            "record boundaries (RFC 5246 section 6.2.1 lets data arrive in any split), and "
            "offer TLS 1.2 or later with AEAD suites, where clients do not split. While it is "
            "fixed, on the Windows clients: the SendExtraRecord value under "
            "HKLM\\SYSTEM\\CurrentControlSet\\Control\\SecurityProviders\\SCHANNEL (2 disables the "
            "extra record globally), or the FEATURE_SCH_SEND_AUX_RECORD_KB_2618444 feature control "
            "key for iexplore.exe and other named applications (KB 2643584)."
        ),
    ),
)

CATALOGUE: Mapping[str, Entry] = MappingProxyType({e.id: e for e in _ENTRIES})

assert len(CATALOGUE) == len(_ENTRIES), "duplicate finding id in the catalogue"
assert all(e.severity in SEVERITIES for e in _ENTRIES)


def entry(finding_id: str) -> Entry:
    return CATALOGUE[finding_id]
