"""idgw: identity-proofing and authentication gateway (OpenID Connect provider) for Thai e-services."""

__version__ = "0.1.0"
