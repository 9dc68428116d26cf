# Host side of the TAP round-trip test (Node has no AF_PACKET):
#   python3 tap-probe.py IFACE GUEST_MAC
# Waits for the guest's hello frame (ethertype 0x88B5, "guest-net-ok"), sends
# one frame to the guest and waits for its echo (MACs swapped). Prints one
# line per step; exit 0 on success, 1 on timeout.
import socket, sys, time

iface, guest_mac = sys.argv[1], bytes.fromhex(sys.argv[2].replace(":", ""))
host_mac = bytes.fromhex("020000aabbcc")
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88B5))
s.bind((iface, 0))
s.settimeout(0.2)
print("listening", flush=True)

def wait_for(pred, seconds):
    end = time.time() + seconds
    while time.time() < end:
        try:
            f = s.recv(2048)
        except socket.timeout:
            continue
        if pred(f):
            return f
    return None

hello = wait_for(lambda f: f[6:12] == guest_mac and f[14:26] == b"guest-net-ok", 20)
if not hello:
    print("no hello from the guest", flush=True)
    sys.exit(1)
print("hello-ok", flush=True)
s.send(guest_mac + host_mac + b"\x88\xb5" + b"host-ping-1234" + bytes(32))
echo = wait_for(lambda f: f[0:6] == host_mac and f[6:12] == guest_mac and f[14:28] == b"host-ping-1234", 20)
if not echo:
    print("no echo from the guest", flush=True)
    sys.exit(1)
print("echo-ok", flush=True)
