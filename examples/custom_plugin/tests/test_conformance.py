"""The whole storage contract, exactly as scimflask's built-in backends run it."""

from scimflask.testing.contract import AllContracts


class TestJsonDirectoryStorage(AllContracts):
    pass
