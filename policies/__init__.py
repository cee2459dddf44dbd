"""The assurance engine: levels, risk assessment, per-service floors, decisions.

Pure Python with no I/O (a leaf: imports nothing from idgw, providers or face_check). Filled in
by the assurance issue; the gateway currently enforces the OIDC-level rules only.
"""
