"""Local stand-ins for Auth0 and AWS API Gateway; never deployed, started by `make run` and the tests."""
