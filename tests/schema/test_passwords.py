"""Password hashing for the writeOnly User `password`."""

import base64
import hashlib

import pytest

from scimflask.passwords import COST_N, SCHEME, hash_password, verify_password


@pytest.fixture(scope="module")
def hashed():
    return hash_password("correct horse battery staple")


def test_hash_is_self_describing_and_hides_the_password(hashed):
    scheme, n, r, p, salt, key = hashed.split("$")
    assert (scheme, int(n), int(r), int(p)) == (SCHEME, COST_N, 8, 1)
    assert "correct horse" not in hashed
    assert salt and key


def test_verify_accepts_the_password_and_rejects_others(hashed):
    assert verify_password("correct horse battery staple", hashed)
    assert not verify_password("correct horse battery stapler", hashed)
    assert not verify_password("", hashed)


def test_hashes_are_salted():
    assert hash_password("same") != hash_password("same")


def test_non_ascii_password_round_trips():
    assert verify_password("pässwörd-🔑", hash_password("pässwörd-🔑"))


@pytest.mark.parametrize(
    "stored",
    ["", "plain-text", "bcrypt$12$abc", "scrypt$16384$8$1$!!$AAAA",
     "scrypt$x$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",
     "scrypt$16383$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAA==",  # N not a power of 2
     "scrypt$1073741824$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAA",  # would need 1 TiB
     "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$"],
)
def test_unreadable_or_hostile_hashes_do_not_verify(stored):
    assert verify_password("anything", stored) is False


def test_hash_with_other_cost_still_verifies():
    """Stored parameters, not the current constants, drive verification."""
    salt = b"0123456789abcdef"
    key = hashlib.scrypt(b"pw", salt=salt, n=2**10, r=8, p=1, dklen=32)
    stored = f"scrypt$1024$8$1${base64.b64encode(salt).decode()}${base64.b64encode(key).decode()}"
    assert verify_password("pw", stored)
    assert not verify_password("pW", stored)
