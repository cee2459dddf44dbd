"""The admin console: e-services, upstreams, keys, staff, four-eyes change requests and the audit
viewer, each a module of pages over plain decision functions."""
