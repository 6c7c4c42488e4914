#!/usr/bin/env python3
"""migrate_transform_zoo.py: the documents of test/integration/migrate_transform_zoo.sh, one extended JSON document a
line on stdout: hand-written edge cases of every column type of the zoo, then seeded random ones (doubles from random
bits, decimals of every scale, dates over PostgreSQL's whole range, strings with escapes and multibyte characters,
nested objects with keys jsonb must sort). Deterministic. Only the standard library (no pymongo needed)."""
import json
import math
import random
import struct
import sys

rng = random.Random(16)


def oid(n):
    return {"$oid": "%024x" % n}


def date(ms):
    return {"$date": {"$numberLong": str(ms)}}


def dec(text):
    return {"$numberDecimal": text}


def long(n):
    return {"$numberLong": str(n)}


def dbl(x):
    if math.isnan(x):
        return {"$numberDouble": "NaN"}
    if math.isinf(x):
        return {"$numberDouble": "Infinity" if x > 0 else "-Infinity"}
    return {"$numberDouble": repr(x)}


def uuid_bin(hex32):
    import base64
    return {"$binary": {"base64": base64.b64encode(bytes.fromhex(hex32)).decode(), "subType": "04"}}


def binary(raw):
    import base64
    return {"$binary": {"base64": base64.b64encode(raw).decode(), "subType": "00"}}


HAND = [
    {"s": "plain", "vc": "abcde", "ch": "ab", "i2": -32768, "i4": 2147483647, "i8": long(-9223372036854775808),
     "n": dec("12.50"), "n38": dec("12.5"), "n52": dec("999.99"), "nneg": dec("12300"), "f8": 0.1, "f4": 0.1,
     "b": True, "ts": date(1700000000123), "tsn": date(1700000000120), "ts0": date(1700000000500),
     "d": date(1700000000123), "u": uuid_bin("a0eebc999c0b4ef8bb6d6bb9bd380a11"), "by": binary(b"\x00\x01\xff"),
     "j": {"b": 1, "a": [1, "x", None], "aa": True, "é": 1, "z": {}}, "js": {"k": [1, 2]},
     "ta": ["a", None, "b\"c", "tab\there", "back\\slash", "{}", "", " sp ", "NULL"], "ia": [1, 2.0, long(3)],
     "na": [dec("1.50"), 2, None], "fa": [dbl(float("nan")), 0.5, dbl(float("inf")), -0.0],
     "tsa": [date(0), date(-1), None], "ba": [True, False], "ja": [{"b": 1, "a": 2}, "x", None, 3],
     "i2d": [[1, 2], [3, 4]], "p": {"q": "nested", "keep": 1}},
    {"s": "héllo wörld ✓ \u0001 \n line", "vc": "ééééé", "ch": "ab    ", "i4": 3.0, "i8": dec("7.00"),
     "n": dec("1.00E+3"), "n38": dec("-0.000000000000000001"), "n52": -1, "f8": 1e20, "f4": 1e-5,
     "b": False, "ts": "2024-05-01T10:30:00.5+02:00", "tsn": "2024-05-01 08:30:00.123456", "ts0": date(-500),
     "d": "2024-05-01T23:30:00-01:00", "u": "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "by": binary(b""),
     "j": "a string", "js": 5, "ta": [], "ia": [], "na": [], "fa": [], "i2d": [], "p": {"q": None}},
    {"s": oid(0x65a1b2c3d4e5f60718293a4b), "n": dec("NaN"), "n38": 3, "n52": 0.5, "f8": dbl(float("-inf")),
     "f4": dbl(float("nan")), "ts": date(-62198755200000), "tsn": date(-210000000000000), "d": date(-62198755200000),
     "u": "{a0eebc999c0b4ef8bb6d6bb9bd380a11}", "j": [], "js": {}, "p": "not an object"},
    {"n": dec("-Infinity"), "n38": 0.1, "n52": "  -1.5  ", "f8": -0.0, "f4": 3.4e38, "ts": "2024-02-29",
     "j": {"o": oid(1), "d": date(1700000000123), "dec": dec("1.10"), "big": long(9007199254740993),
           "nan": dbl(float("nan")), "neg0": -0.0, "e": 1e-7, "huge": 1e300,
           "re": {"$regularExpression": {"pattern": "^a", "options": "i"}}, "t": {"$timestamp": {"t": 7, "i": 3}},
           "bin": binary(b"\x01\x02"), "uu": uuid_bin("00112233445566778899aabbccddeeff")},
     "extra_field": {"dec": dec("5.0"), "when": date(86400000), "arr": [oid(2), {"y": 1, "x": 2}]}},
    {"n": "1e-3", "n38": "123456789012345678.123456789012345678", "f8": long(9007199254740993), "f4": 16777217,
     "ts": "2024-05-01T08:30:00.1234565Z", "ts0": "2024-05-01T08:30:00.5Z", "d": "0001-01-01"},
    {},
]

# the documents the transform refuses, each for one reason (the script counts them)
REJECTED = [
    {"i4": "5"},
    {"i2": 40000},
    {"i8": 1.5},
    {"n52": dec("1.005")},
    {"n52": dec("1000")},
    {"n38": dec("Infinity")},
    {"vc": "abcdef"},
    {"b": 1},
    {"ts": "yesterday"},
    {"ts": date(9300000000000000)},
    {"u": "nope"},
    {"ia": [1, "x"]},
    {"i2d": [[1, 2], [3]]},
    {"f4": 1e300},
    {"s": 5},
]


def random_double():
    while True:
        x = struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0]
        if rng.random() < 0.5:
            x = rng.uniform(-1e6, 1e6) if rng.random() < 0.5 else round(rng.uniform(-1000, 1000), rng.randint(0, 6))
        return x


def random_decimal(max_scale):
    digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 20)))
    scale = rng.randint(0, min(max_scale, len(digits) + 2))
    text = digits if scale == 0 else (digits[:-scale] or "0") + "." + digits[-scale:].rjust(scale, "0")
    return ("-" if rng.random() < 0.3 else "") + text


def random_string():
    alphabet = "ab \t\n\\\"'{},é✓\u00a0\U0001f600x\u0007"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))


def random_key():
    return rng.choice(["a", "b", "aa", "ab", "é", "ä", "z", "zz", "A", "key", "k\"q", "_", "1", "10", "2"])


def random_json(depth=0):
    kind = rng.randint(0, 9 if depth < 3 else 6)
    if kind == 0:
        return None
    if kind == 1:
        return rng.random() < 0.5
    if kind == 2:
        return rng.randint(-2**40, 2**40)
    if kind == 3:
        return dbl(random_double())
    if kind == 4:
        return dec(random_decimal(10))
    if kind == 5:
        return random_string()
    if kind == 6:
        return date(rng.randint(-10**13, 10**13))
    if kind in (7, 8):
        return {random_key(): random_json(depth + 1) for _ in range(rng.randint(0, 5))}
    return [random_json(depth + 1) for _ in range(rng.randint(0, 4))]


def random_doc():
    d = {}
    if rng.random() < 0.9:
        d["s"] = random_string()
    d["i8"] = long(rng.randint(-2**63, 2**63 - 1))
    d["n"] = dec(random_decimal(30))
    scale_ok = random_decimal(18)
    if len(scale_ok.lstrip("-").split(".")[0]) <= 20:
        d["n38"] = dec(scale_ok)
    d["f8"] = dbl(random_double())
    d["f4"] = dbl(rng.uniform(-1e30, 1e30)) if rng.random() < 0.5 else rng.randint(-2**31, 2**31 - 1)
    d["ts"] = date(rng.randint(-210000000000000, 9200000000000000))
    d["tsn"] = date(rng.randint(-210000000000000, 9200000000000000))
    d["ts0"] = date(rng.randint(-10**13, 10**13))
    d["d"] = date(rng.randint(-210000000000000, 9200000000000000))
    d["j"] = random_json()
    d["ta"] = [random_string() for _ in range(rng.randint(0, 4))]
    d["fa"] = [dbl(random_double()) for _ in range(rng.randint(0, 3))]
    d["tsa"] = [date(rng.randint(-10**13, 10**13)) for _ in range(rng.randint(0, 3))]
    # integral floats beyond the mantissa, where the shortest digits can be a bound of the rounding interval
    d["ia"] = [rng.randint(-2**31, 2**31 - 1) for _ in range(rng.randint(0, 3))]
    d["na"] = [dec(random_decimal(6)) for _ in range(rng.randint(0, 2))]
    d["fa"] += [float(rng.getrandbits(rng.randint(54, 90))) for _ in range(4)]
    if rng.random() < 0.5:
        d["f4"] = float(rng.getrandbits(rng.randint(25, 60)))
    d["unmapped"] = random_json()
    return d


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    docs = HAND + [random_doc() for _ in range(n)]
    for i, d in enumerate(docs):
        print(json.dumps(dict({"_id": "ok-%d" % i}, **d), ensure_ascii=False))
    for i, d in enumerate(REJECTED):
        print(json.dumps(dict({"_id": "bad-%d" % i}, **d), ensure_ascii=False))


main()
