"""ASGI entry point for multi-worker serving (``idgw serve --workers N``): settings from the environment."""

from idgw.app import create_app, settle_heap

app = create_app()
settle_heap()
