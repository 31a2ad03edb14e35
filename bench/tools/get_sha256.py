"""GET one URL and print the SHA-256 of its body, hashed as it arrives.

A reader of one process, as an application is: the body is received straight into one 1 MiB buffer and hashed there
(hashlib's SHA-256 is OpenSSL's, which uses the CPU's SHA extensions). `curl | openssl dgst` moves every byte through
a pipe between two processes, in pieces of 16 KiB, and on 2 cores that set the speed of every fast read it measured
(bench/shared-cache/README.md).

    python3 get_sha256.py http://127.0.0.1:17480/bucket/key
"""

import hashlib
import http.client
import sys
import urllib.parse


def main() -> None:
    url = urllib.parse.urlsplit(sys.argv[1])
    connection = http.client.HTTPConnection(url.hostname, url.port or 80)
    connection.request("GET", url.path + (f"?{url.query}" if url.query else ""))
    response = connection.getresponse()
    if response.status != 200:
        sys.exit(f"GET {sys.argv[1]}: HTTP {response.status} {response.reason}")
    digest = hashlib.sha256()
    buffer = memoryview(bytearray(1 << 20))
    received = 0
    while count := response.readinto(buffer):
        digest.update(buffer[:count])
        received += count
    length = response.getheader("Content-Length")
    if length is not None and received != int(length):
        sys.exit(f"GET {sys.argv[1]}: {received} bytes of {length}")
    print(digest.hexdigest())


if __name__ == "__main__":
    main()
