#!/usr/bin/env python3
"""Reads a TensorBoard event file independently of synclab: checks the TFRecord framing and
CRCs with its own CRC-32C, parses each record with protoc-generated classes, and prints the
events as JSON lines: {"wall_time", "step", "file_version" | "scalars": {tag: value}}.

Usage: read_events.py EVENT_FILE   (needs protoc and python3-protobuf)
"""
import json
import os
import struct
import subprocess
import sys
import tempfile


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def masked(data: bytes) -> int:
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def records(blob: bytes):
    pos = 0
    while pos < len(blob):
        if len(blob) - pos < 12:
            raise ValueError(f"truncated record header at byte {pos}")
        header = blob[pos:pos + 8]
        (length,) = struct.unpack("<Q", header)
        (length_crc,) = struct.unpack("<I", blob[pos + 8:pos + 12])
        if length_crc != masked(header):
            raise ValueError(f"bad length CRC at byte {pos}")
        data = blob[pos + 12:pos + 12 + length]
        (data_crc,) = struct.unpack("<I", blob[pos + 12 + length:pos + 16 + length])
        if len(data) != length or data_crc != masked(data):
            raise ValueError(f"bad data CRC at byte {pos}")
        yield data
        pos += 16 + length


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["protoc", f"--proto_path={here}", f"--python_out={out}", "event.proto", "summary.proto"],
                       check=True)
        sys.path.insert(0, out)
        import event_pb2  # noqa: E402 (generated above)

        with open(sys.argv[1], "rb") as f:
            blob = f.read()
        for data in records(blob):
            event = event_pb2.Event()
            event.ParseFromString(data)
            row = {"wall_time": event.wall_time, "step": event.step}
            if event.HasField("file_version"):
                row["file_version"] = event.file_version
            if event.HasField("summary"):
                row["scalars"] = {v.tag: v.simple_value for v in event.summary.value}
            print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
