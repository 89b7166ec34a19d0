# Client simulation against real servers and what-if audits of server and client policies.
