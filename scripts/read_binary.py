#!/usr/bin/env python3
"""Reads synclab's binary files without synclab (docs/formats.md): final parameters of a real
run (shard-<i>.params) and parameter-server checkpoints (shard-<i>-<version>.ckpt).

Usage: read_binary.py FILE...   prints one JSON line per file: its header fields and the
parameter count, first values and sum. As a module: read_params(path) and
read_checkpoint(path) return dicts whose "params" is an array.array('f').
Only the Python standard library is needed.
"""
import array
import json
import struct
import sys
import zlib


class Reader:
    def __init__(self, data, name):
        self.data, self.pos, self.name = data, 0, name

    def take(self, n, what):
        if self.pos + n > len(self.data):
            raise ValueError(f"{self.name}: truncated at {what}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def unpack(self, fmt, what):
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))[0]

    def string(self, what):
        return self.take(self.unpack("Q", what), what).decode()

    def floats(self, count, what):
        values = array.array("f")
        values.frombytes(self.take(4 * count, what))
        return values


def read_params(path):
    """shard-<i>.params: b"SLPARAM1", u64 begin, u64 end, (end - begin) float32."""
    with open(path, "rb") as f:
        r = Reader(f.read(), path)
    if r.take(8, "magic") != b"SLPARAM1":
        raise ValueError(f"{path}: not a synclab parameter file")
    begin, end = r.unpack("Q", "begin"), r.unpack("Q", "end")
    return {"begin": begin, "end": end, "params": r.floats(end - begin, "params")}


def read_checkpoint(path):
    """shard-<i>-<version>.ckpt: seal, shard header, then the server core's state."""
    with open(path, "rb") as f:
        blob = f.read()
    seal = Reader(blob, path)
    if seal.take(8, "magic") != b"SYNCKPT1":
        raise ValueError(f"{path}: not a synclab checkpoint")
    body = seal.take(seal.unpack("Q", "length"), "body")
    if seal.unpack("I", "crc32") != zlib.crc32(body):
        raise ValueError(f"{path}: CRC mismatch (corrupt checkpoint)")
    r = Reader(body, path)
    if r.take(8, "header magic") != b"SLPSHDR1":
        raise ValueError(f"{path}: missing shard header")
    out = {"fingerprint": r.unpack("Q", "fingerprint"), "begin": r.unpack("Q", "begin"),
           "end": r.unpack("Q", "end"), "run_time_s": r.unpack("d", "run_time"),
           "samples": r.unpack("Q", "samples")}
    if r.string("core tag") != "synclab-server-core-v1":
        raise ValueError(f"{path}: unknown server state format")
    out["policy"] = r.string("policy")
    r.unpack("Q", "range begin")
    r.unpack("Q", "range end")
    out["timing_only"] = r.unpack("b", "timing flag") != 0
    out["version"] = r.unpack("Q", "version")
    out["applied_pushes"] = r.unpack("Q", "applied")
    out["dropped_pushes"] = r.unpack("Q", "dropped")
    out["params"] = r.floats(r.unpack("Q", "params count"), "params")
    # Optimizer state, pending pushes and policy state follow (docs/formats.md).
    return out


def main(paths):
    for path in paths:
        info = read_checkpoint(path) if path.endswith(".ckpt") else read_params(path)
        params = info.pop("params")
        info.update(path=path, count=len(params), first=list(params[:4]), sum=float(sum(params)))
        print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
