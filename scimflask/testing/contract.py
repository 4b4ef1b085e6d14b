"""The storage contract as pytest mixin classes, written only against `scim_storage`.

A backend's test module is mostly::

    class TestMyStorage(AllContracts):
        pass

or a selection of the classes below. `AllContracts` is every one of them.
"""

from __future__ import annotations

from .contract_concurrency import ConcurrencyContract
from .contract_log import LogHoursContract, ProvisioningLogContract
from .contract_log_query import LogQueryContract
from .contract_membership import MembershipContract
from .contract_operations import CounterContract, TenantContract
from .contract_paging import KeysetPagingContract, PagingContract
from .contract_query import FilterContract, FilterPropertyContract, SortContract
from .contract_resources import ResourceContract, UniquenessContract, VersionContract
from .contract_substring import ScanBoundContract, SubstringIndexContract
from .contract_tenancy import TenancyContract
from .contract_tokens import TokenContract


class AllContracts(
    ResourceContract,
    UniquenessContract,
    VersionContract,
    MembershipContract,
    FilterContract,
    FilterPropertyContract,
    SubstringIndexContract,
    ScanBoundContract,
    SortContract,
    PagingContract,
    KeysetPagingContract,
    TokenContract,
    TenancyContract,
    ConcurrencyContract,
    TenantContract, ProvisioningLogContract, LogQueryContract, LogHoursContract, CounterContract,
):
    """Every contract class; a conforming backend passes all of them."""


__all__ = [
    "AllContracts", "ResourceContract", "UniquenessContract", "VersionContract",
    "MembershipContract", "FilterContract", "FilterPropertyContract", "SubstringIndexContract",
    "ScanBoundContract", "SortContract",
    "PagingContract", "KeysetPagingContract", "TokenContract", "TenancyContract",
    "ConcurrencyContract", "TenantContract", "ProvisioningLogContract", "LogQueryContract",
    "LogHoursContract", "CounterContract",
]
