"""A token service for the distribution registry's `token` authentication (GHCR's flow), for
tests/oci.rs: the registry answers 401 with `WWW-Authenticate: Bearer realm=…,service=…,scope=…`,
the client asks this realm for a token with Basic credentials, and the registry verifies the RS256
JWT against the certificate this script writes.

    python3 token_server.py DIR PORT USER PASSWORD [READER]

Writes DIR/cert.pem (the registry's `rootcertbundle`), then serves GET /token on 127.0.0.1:PORT.
USER may pull and push; READER (a user with the same password) may only pull; anyone else, and an
anonymous request, gets pull only. Every token request is appended to DIR/requests.jsonl (the
scope and the user, never the password).
"""

import base64
import datetime
import http.server
import json
import os
import sys
import urllib.parse

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

DIR, PORT, USER, PASSWORD = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
READER = sys.argv[5] if len(sys.argv) > 5 else None
ISSUER = "ml-gates-test-token-service"

key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ISSUER)])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (
    x509.CertificateBuilder()
    .subject_name(name)
    .issuer_name(name)
    .public_key(key.public_key())
    .serial_number(x509.random_serial_number())
    .not_valid_before(now - datetime.timedelta(days=1))
    .not_valid_after(now + datetime.timedelta(days=1))
    .sign(key, hashes.SHA256())
)
with open(os.path.join(DIR, "cert.pem"), "wb") as f:
    f.write(cert.public_bytes(serialization.Encoding.PEM))
x5c = [base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()]
pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        if url.path != "/token":
            self.send_error(404)
            return
        query = urllib.parse.parse_qs(url.query)
        user = None
        auth = self.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            got_user, _, got_password = base64.b64decode(auth[6:]).decode().partition(":")
            if got_password != PASSWORD or got_user not in (USER, READER):
                self.send_response(401)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                return
            user = got_user
        access = []
        for scope in query.get("scope", []):
            kind, _, rest = scope.partition(":")
            repo, _, actions = rest.rpartition(":")
            wanted = actions.split(",")
            granted = [a for a in wanted if a == "pull" or (a == "push" and user == USER)]
            access.append({"type": kind, "name": repo, "actions": granted})
        with open(os.path.join(DIR, "requests.jsonl"), "a") as f:
            f.write(json.dumps({"user": user, "scope": query.get("scope", []), "service": query.get("service")}) + "\n")
        issued = datetime.datetime.now(datetime.timezone.utc)
        claims = {
            "iss": ISSUER,
            "sub": user or "",
            "aud": query.get("service", [""])[0],
            "exp": issued + datetime.timedelta(minutes=5),
            "nbf": issued - datetime.timedelta(seconds=10),
            "iat": issued,
            "jti": os.urandom(8).hex(),
            "access": access,
        }
        token = jwt.encode(claims, pem, algorithm="RS256", headers={"x5c": x5c})
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
with open(os.path.join(DIR, "ready"), "w") as f:
    f.write("ready\n")
server.serve_forever()
