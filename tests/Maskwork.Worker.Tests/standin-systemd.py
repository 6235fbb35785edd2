#!/usr/bin/env python3
"""A stand-in for systemd in the notify test: names itself "systemd" (what Microsoft.Extensions.Hosting.Systemd
looks for in its parent), listens on a NOTIFY_SOCKET datagram socket, runs the command given and prints every
notification it receives, one "notify: ..." line each."""
import ctypes, os, socket, subprocess, sys

PR_SET_NAME = 15
ctypes.CDLL(None).prctl(PR_SET_NAME, b"systemd", 0, 0, 0)
path, command = sys.argv[1], sys.argv[2:]
sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
sock.bind(path)
sock.settimeout(0.2)
child = subprocess.Popen(command, env=dict(os.environ, NOTIFY_SOCKET=path))
print(f"standin: child {child.pid}", flush=True)
while True:
    try:
        message = sock.recv(4096).decode()
        print("notify: " + message.replace("\n", " ").strip(), flush=True)
    except socket.timeout:
        if child.poll() is not None:
            break
print(f"standin: exit {child.wait()}", flush=True)
