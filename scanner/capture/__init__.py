# Explaining a network capture: pcap/pcapng in (packets.py, dpkt), TCP reassembly (tcp.py),
# each connection read as TLS from both sides (connection.py), optionally decrypted with a
# key log (keylog.py, handshakes.tls12 / handshakes.tls13), named (fingerprint.py) and
# diagnosed with the scan's finding ids (diagnose.py); analyze.py streams the reports,
# report.py formats them, cli.py is `tlscompat explain CAPTURE`.
