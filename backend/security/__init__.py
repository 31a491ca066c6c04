"""Authentication for remote use: CurveZMQ key pairs and the server's client allow-list."""
