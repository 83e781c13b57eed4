#!/usr/bin/env python3
# A leaner client for the benchmark's 1 GiB transfers, in a process of its own
# (`BENCH_CLIENT=sendfile npm run bench`).
#
# On this project's 2-core machine the client shares the cores with the registry it
# measures. Node's http client spent 1.5 s of CPU per GiB sending a file; this
# one sends request bodies with sendfile(2) straight from the page cache (0.45 s
# per GiB) and reads responses into one reused buffer, so what is measured is
# closer to the registry alone, as with a client on another machine. It is not the
# default: every earlier run was measured with node:http, and both clients are
# reported in README.
#
#   transfer.py mono    BASE REPO FILE SIZE DIGEST
#   transfer.py chunked BASE REPO FILE SIZE DIGEST CHUNK
#   transfer.py pull    BASE REPO DIGEST
#
# Prints one line of JSON: {"seconds": ..., "bytes": ...}, timed from the first
# request to the last answer. Fails (exit 1, the reason on stderr) on any status
# other than the protocol's.
import http.client
import json
import sys
import time
from urllib.parse import quote, urljoin, urlsplit

READ_BUFFER = 1 << 20


class Client:
    def __init__(self, base):
        parts = urlsplit(base)
        self.base = base
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port or 80)

    def request(self, method, url, headers, want, body_file=None, offset=0, count=0):
        """One request on the kept-alive connection; the body, if any, sent with sendfile."""
        target = urlsplit(urljoin(self.base, url))
        path = target.path + ('?' + target.query if target.query else '')
        self.conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers.items():
            self.conn.putheader(name, str(value))
        self.conn.endheaders()
        sent = 0
        while sent < count:
            n = self.conn.sock.sendfile(body_file, offset + sent, count - sent)
            if n == 0:
                raise RuntimeError(f'{method} {url}: the file ended after {sent} of {count} bytes')
            sent += n
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.status != want:
            raise RuntimeError(f'{method} {url}: expected {want}, got {resp.status} {body[:300]!r}')
        return resp

    def start_upload(self, repo):
        resp = self.request('POST', f'/v2/{repo}/blobs/uploads/', {'Content-Length': 0}, 202)
        return resp.getheader('Location')


def with_digest(location, digest):
    return f"{location}{'&' if '?' in location else '?'}digest={quote(digest, safe='')}"


def mono(base, repo, path, size, digest):
    c = Client(base)
    with open(path, 'rb') as f:
        location = c.start_upload(repo)
        headers = {'Content-Type': 'application/octet-stream', 'Content-Length': size}
        c.request('PUT', with_digest(location, digest), headers, 201, f, 0, size)
    return size


def chunked(base, repo, path, size, digest, chunk):
    c = Client(base)
    with open(path, 'rb') as f:
        location = c.start_upload(repo)
        for start in range(0, size, chunk):
            n = min(chunk, size - start)
            headers = {
                'Content-Type': 'application/octet-stream',
                'Content-Length': n,
                'Content-Range': f'{start}-{start + n - 1}',
            }
            location = c.request('PATCH', location, headers, 202, f, start, n).getheader('Location')
        c.request('PUT', with_digest(location, digest), {'Content-Length': 0}, 201)
    return size


def pull(base, repo, digest):
    c = Client(base)
    c.conn.putrequest('GET', f'/v2/{repo}/blobs/{digest}', skip_accept_encoding=True)
    c.conn.endheaders()
    resp = c.conn.getresponse()
    if resp.status != 200:
        raise RuntimeError(f'GET blob: expected 200, got {resp.status} {resp.read()[:300]!r}')
    buf = bytearray(READ_BUFFER)
    total = 0
    while True:
        n = resp.readinto(buf)
        if n == 0:
            return total
        total += n


def main(argv):
    op, args = argv[1], argv[2:]
    t0 = time.perf_counter()
    if op == 'mono':
        n = mono(args[0], args[1], args[2], int(args[3]), args[4])
    elif op == 'chunked':
        n = chunked(args[0], args[1], args[2], int(args[3]), args[4], int(args[5]))
    elif op == 'pull':
        n = pull(args[0], args[1], args[2])
    else:
        raise SystemExit(f'unknown operation {op}')
    print(json.dumps({'seconds': time.perf_counter() - t0, 'bytes': n}))


if __name__ == '__main__':
    try:
        main(sys.argv)
    except Exception as err:  # one line for the benchmark's log, not a traceback
        print(f'transfer.py: {err}', file=sys.stderr)
        sys.exit(1)
