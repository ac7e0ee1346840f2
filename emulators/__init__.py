"""Local stand-ins for Auth0 and AWS API Gateway.

Never deployed; started by `make run` and by the tests.
"""
