"""Protocol-faithful simulators of the upstream identity sources (domain brief §3), for the demo and
the tests: ``thaid`` (a ThaiD-style OIDC provider) and ``ndid`` (an NDID-style platform with an
"IdP app"). Both are FastAPI apps with in-memory state, served over real HTTP; the connectors never
know they talk to one. ``python -m providers.simulators --help`` runs them on their own;
``server.ServerThread`` runs one in a background thread.
"""
