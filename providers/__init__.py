"""Upstream identity sources (ThaiD-style OIDC, NDID) and their protocol-faithful simulators.

A leaf package: imports nothing from idgw, policies or face_check. Filled in by the upstream
brokering issue.
"""
