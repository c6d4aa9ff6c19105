#!/usr/bin/env python3
"""make_corpus.py — writes the seed corpora: for fuzz_handshake (argv[1],
default corpus/), valid and near-valid handshake messages (first byte even)
and a valid topic+lane pair (first byte odd); for fuzz_sub (argv[2], default
corpus_sub/), valid topic and lane headers followed by programs of takes,
releases and publisher writes (see fuzz_sub.c). Layouts mirror
notify/proto.h and core/layout.h."""
import os
import struct
import sys

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "corpus")
os.makedirs(out, exist_ok=True)
MAGIC, VERSION = 0x53444456, 3  # notify/proto.h VDDS__PROTO_VERSION


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


# fuzz_sub: [topic pages][ring log2][topic header][lane header, 64 B][ops]
out_sub = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "corpus_sub")
os.makedirs(out_sub, exist_ok=True)
# the operation codes of fuzz_sub.c's run() (1 is a second take)
TAKE, RELEASE, PENDING, DELIVER, DELIVER_RAW, CONS = 0, 2, 3, 4, 5, 6
SCRIBBLE_TOPIC, SCRIBBLE_LANE, QUEUED, ARM = 7, 8, 9, 10


def sub_seed(name, overflow, ops, slots=8, ring_log2=4, type_name=b"pose"):
    ring = 1 << ring_log2
    topic_size = 8192  # pages byte 1: 4096 * (1 + 1)
    hdr = struct.pack("<IHHIIQQQQQiI", 0x54444456, 3, 256, slots, 4, 64, 64, 0, 4096, topic_size,
                      1234, 0) + type_name.ljust(64, b"\0") + struct.pack("<II", overflow, 0)
    hdr = hdr.ljust(256, b"\0")
    lane = struct.pack("<IHHIIIIQ", 0x4c444456, 3, 512, 0, ring, slots, 0, 512 + 40 * ring).ljust(64, b"\0")
    with open(os.path.join(out_sub, name), "wb") as f:
        f.write(bytes([1, ring_log2]) + hdr + lane + bytes(ops))


def deliver(slot, seq, length):
    return [DELIVER, slot] + list(struct.pack("<HHH", seq, seq * 10, length))


def deliver_raw(pos, mark, slot, seq, length):
    return [DELIVER_RAW, pos] + list(struct.pack("<IIHHQ", mark, slot, seq, seq * 10, length))


honest = deliver(0, 1, 8) + deliver(1, 2, 64) + deliver(2, 3, 0) + [TAKE, TAKE, PENDING, TAKE, QUEUED]
honest += [RELEASE, 0, RELEASE, 1, RELEASE, 0] + deliver(0, 4, 1) + [ARM, PENDING, TAKE, TAKE]
sub_seed("block_honest", 0, honest)
sub_seed("fail_honest", 2, honest)
sub_seed("drop_oldest_honest", 1, honest + [CONS] + list(struct.pack("<I", 5)) + [TAKE])
sub_seed("block_forged_slot", 0, deliver(0, 1, 8) + [TAKE] + deliver(9, 2, 8) + [TAKE, TAKE])
sub_seed("block_forged_len", 0, deliver(0, 1, 8) + [TAKE] + deliver(1, 2, 65) + [TAKE])
sub_seed("block_forged_mark", 0, deliver(0, 1, 8) + [TAKE] + deliver_raw(1, 18, 1, 2, 8) + [PENDING, TAKE])
sub_seed("block_scribbled_headers", 0,
         deliver(0, 1, 8) + [SCRIBBLE_TOPIC] + list(struct.pack("<HB", 8, 0xff)) +
         [SCRIBBLE_LANE] + list(struct.pack("<HB", 12, 0x40)) + [TAKE, RELEASE, 0] + deliver(1, 2, 8) + [TAKE])
sub_seed("drop_oldest_cons_back", 1, deliver(0, 1, 8) + deliver(1, 2, 8) + [TAKE, CONS] +
         list(struct.pack("<I", 0)) + [TAKE])
sub_seed("ring_of_one", 0, deliver(0, 1, 8) + [TAKE, RELEASE, 0] + deliver(0, 2, 8) + [TAKE], slots=1, ring_log2=0)
