"""The Lambda custom authorizer that ships to AWS; see `handler.py` for the entry points.

It depends on `cryptography` only, and never imports Flask, requests, boto3, `webapp` or
`emulators`.
"""
