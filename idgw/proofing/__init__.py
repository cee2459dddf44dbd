"""Officer video-call identity proofing: a citizen below a service's IAL is raised to it by an
officer on a video call, with evidence (docs/proofing.md).

- ``cases``: the case state machine and its append-only record (plain functions over the database).
- ``analysis``: the gateway's face checks on the media it receives (the only importer of face_check).
- ``media`` / ``signalling`` / ``ice``: the gateway's side of the WebRTC call.
- ``citizen_pages`` / ``officer_pages``: the citizen's and the officer's pages (the officer's
  steps, run in one transaction each, in ``officer_steps``).
"""
