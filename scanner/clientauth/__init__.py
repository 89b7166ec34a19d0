# Client certificates: load the user's credentials (credentials.py, cli.py), find out how
# a server treats a client with none or with each of them (probe.py), and say what is
# wrong with a certificate the server refused (findings.py).
