#!/usr/bin/env python3
"""make_corpus.py — writes the seed corpus for fuzz_handshake: valid and
near-valid handshake messages (first byte even) and a valid topic+lane pair
(first byte odd). Layouts mirror notify/proto.h and core/layout.h."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
os.makedirs(out, exist_ok=True)
MAGIC, VERSION = 0x53444456, 3  # notify/proto.h VDDS_PROTO_VERSION


def hdr(kind, size, version=VERSION):
    return struct.pack("<IHHII", MAGIC, version, kind, size, 0)


def save(name, data):
    with open(os.path.join(out, name), "wb") as f:
        f.write(data)


hello = hdr(1, 88) + struct.pack("<II", 48, 0) + b"pose".ljust(64, b"\0")
welcome = hdr(2, 40) + struct.pack("<IIQQ", 3, 0, 8192, 1152)
reject = hdr(3, 152) + struct.pack("<iI", 13, 0) + b"user not allowed".ljust(128, b"\0")
bye = hdr(4, 152) + struct.pack("<iI", 74, 0) + b"subscriber broke the lane protocol".ljust(128, b"\0")
save("hello", b"\0" + hello)
save("hello_any_type", b"\0" + hdr(1, 88) + struct.pack("<II", 0, 0) + b"\0" * 64)
save("hello_bad_version", b"\0" + hdr(1, 88, 2) + hello[16:])
save("welcome", b"\0" + welcome)
save("reject", b"\0" + reject)
save("bye", b"\0" + bye)

# topic: header (256 B) for 2 slots of 64 B (layout 3: no descriptor array);
# lane: ring of 16 with 2 marked entries queued (mark = position + 1)
slot_count, slot_size, stride = 2, 64, 64
data_off = 4096
seg = 8192  # the size fuzz_handshake gives the topic
topic = struct.pack("<IHHIIQQQQQiI", 0x54444456, 3, 256, slot_count, 4, slot_size, stride,
                    0, data_off, seg, 1234, 0) + b"\0" * 64
topic = topic.ljust(256, b"\0")
ring = 16
lane = struct.pack("<IHHIIIIQ", 0x4c444456, 3, 512, 0, ring, slot_count, 0, 512 + 40 * ring).ljust(64, b"\0")
lane += struct.pack("<I", 2).ljust(64, b"\0")      # deliver_prod (introspection only)
lane += b"\0" * 64 * 6                              # deliver_cons .. reserved
entries = [struct.pack("<IIQQQ", 1, 0, 1, 1000, 8), struct.pack("<IIQQQ", 2, 1, 2, 2000, 64)]
lane += b"".join(entries) + b"\0" * 32 * (ring - 2)  # deliver[]
save("segments", b"\1" + topic + lane)
