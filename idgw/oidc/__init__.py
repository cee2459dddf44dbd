"""OpenID Connect provider: Authlib's authorization server behind a thin FastAPI adapter.

This package never knows how a person logged in: it receives an ``AuthnResult`` from the
interaction and turns it into codes and tokens.
"""
