"""Placeholder: filled in by the proofing work in progress."""

from fastapi import APIRouter


def router(gw) -> APIRouter:
    return APIRouter()
