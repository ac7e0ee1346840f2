"""The backend Lambda functions behind the APIs (Lambda proxy integrations).

Like `authorizer/`, this ships to Lambda: it never imports Flask, `webapp` or `emulators`.
"""
