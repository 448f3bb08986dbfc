"""The HTTP server (app, routes) and the Python client that talks to it."""
