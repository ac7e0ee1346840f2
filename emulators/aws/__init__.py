"""A local AWS account for the lab: IAM principals, their access keys, STS and a Cognito
identity pool, read from `template.yaml`, as far as API Gateway's `AWS_IAM` authorization
needs them.

`credentials.py` is the seam between the parts that issue credentials (IAM users' access
keys, STS, the identity pool) and the gateway's IAM authorizer, which looks a SigV4
request's access key id up and evaluates the principal's policies.
"""
