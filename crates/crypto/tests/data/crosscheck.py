#!/usr/bin/env python3
"""Independent computation of the expected values in ../vectors.rs, using pycryptodome.

Not run by the tests (they need no Python); run it by hand after changing a vector:
    pip install pycryptodome && python3 crates/crypto/tests/data/crosscheck.py
Each line prints a name and the upper-case hex the Rust test expects.
"""
import pathlib

from Crypto.Cipher import DES, DES3


def h(b):
    return b.hex().upper()


def des(key):
    return DES.new(key, DES.MODE_ECB)


def tdes(key):
    # pycryptodome refuses keys whose halves are equal; those degenerate to single DES.
    if len(key) == 16 and key[:8] == key[8:]:
        return des(key[:8])
    return DES3.new(key, DES3.MODE_ECB)


def engine(key):
    return des(key) if len(key) == 8 else tdes(key)


def pad(data):
    if not data:
        return bytes(8)
    return data + bytes(-len(data) % 8)


def cbc_mac(key, data):
    e = engine(key)
    state = bytes(8)
    for i in range(0, len(pad(data)), 8):
        state = e.encrypt(bytes(a ^ b for a, b in zip(state, pad(data)[i:i + 8])))
    return state


def x919(key, data):
    state = cbc_mac(key[:8], data)
    return des(key[:8]).encrypt(des(key[8:16]).decrypt(state))


def cup_ecb(key, data, lower=False, trace=False):
    data = pad(data)
    folded = bytes(8)
    for i in range(0, len(data), 8):
        folded = bytes(a ^ b for a, b in zip(folded, data[i:i + 8]))
    text = folded.hex() if lower else folded.hex().upper()
    e = engine(key)
    first = e.encrypt(text[:8].encode())
    mixed = bytes(a ^ b for a, b in zip(first, text[8:].encode()))
    second = e.encrypt(mixed)
    mac = h(second)[:8]
    if trace:
        print("  folded", h(folded), "hex", text, "enc1", h(first), "xor", h(mixed),
              "enc2", h(second))
    return mac


def pin_block0(pin, pan):
    pin_field = bytes.fromhex(("0%X" % len(pin)) + pin + "F" * (14 - len(pin)))
    pan_field = bytes.fromhex("0000" + pan[:-1][-12:].rjust(12, "0"))
    return bytes(a ^ b for a, b in zip(pin_field, pan_field))


def main():
    k1 = bytes.fromhex("0123456789ABCDEF")
    k2 = bytes.fromhex("0123456789ABCDEFFEDCBA9876543210")
    now = b"Now is the time for all "
    print("FIPS 81 ECB", h(des(k1).encrypt(now)))
    print("FIPS 81 CBC", h(DES.new(k1, DES.MODE_CBC, iv=bytes.fromhex("1234567890ABCDEF"))
                          .encrypt(now)))
    print("SP 800-17 VPT 8000..", h(des(bytes.fromhex("0101010101010101"))
                                   .encrypt(bytes.fromhex("8000000000000000"))))
    k3 = bytes.fromhex("0123456789ABCDEF23456789ABCDEF01456789ABCDEF0123")
    print("SP 800-67 TDES", h(DES3.new(k3, DES3.MODE_ECB).encrypt(b"The qufck brown fox jump")))
    print("KCV single", h(des(k1).encrypt(bytes(8))))
    print("KCV double", h(tdes(k2).encrypt(bytes(8))))
    print("KCV triple", h(DES3.new(k3, DES3.MODE_ECB).encrypt(bytes(8))))
    print("X9.9 FIPS 113", h(cbc_mac(k1, b"7654321 Now is the time for ")))
    print("X9.9 now", h(cbc_mac(k1, now)))
    print("X9.9 TDES now", h(cbc_mac(k2, now)))
    print("X9.19 now", h(x919(k2, now)))
    print("X9.19 FIPS 113 text", h(x919(k2, b"7654321 Now is the time for ")))
    print("X9.19 empty", h(x919(k2, b"")))
    block = pin_block0("123456", "1234567890123456")
    print("PIN0 clear", h(block))
    print("PIN0 enc single", h(des(k1).encrypt(block)))
    print("PIN0 enc double", h(tdes(k2).encrypt(block)))
    # Format 3 with fill bytes 0, 1, 2... -> A + b % 6
    fill = "".join("ABCDEF"[b % 6] for b in range(10))
    pin_field = bytes.fromhex("34" + "1234" + fill[:10])
    pan_field = bytes.fromhex("0000" + "4000001234567899"[:-1][-12:])
    b3 = bytes(a ^ b for a, b in zip(pin_field, pan_field))
    print("PIN3 clear", h(b3), "enc double", h(tdes(k2).encrypt(b3)))
    single_mac = bytes.fromhex("0123456789ABCDEF")
    for name, data in [("now", now), ("27 bytes", b"0200" + bytes(range(23)))]:
        print("CUP", name, "single", cup_ecb(single_mac, data, trace=True))
        print("CUP", name, "double", cup_ecb(k2, data, trace=True))
        print("CUP", name, "first half", cup_ecb(k2[:8], data))
        print("CUP", name, "lower-case", cup_ecb(single_mac, data, lower=True, trace=True))
    b = bytes.fromhex(pathlib.Path(__file__).with_name("b.hex").read_text().strip())
    before64 = b[:-8]
    print("b.hex len", len(b), "MAC input", len(before64))
    print("b x919", h(x919(k2, before64)))
    print("b x99", h(cbc_mac(k1, before64)))
    print("b cup-ecb double", cup_ecb(k2, before64), "single", cup_ecb(k1, before64))


main()
