"""What the e-prescription and referral steps share: the receiving side taken down with a
``genrep.faults`` fault named in English or Swedish, brought back, and always back after the scenario.

Not a ``*_steps`` module, and it defines no steps: the Given/When steps stay in ``erx_steps`` and
``referral_steps`` with their own wording (the step catalogue lists steps by the module that defines
them); they call these. A scenario object here is one with ``faults`` (the fault driver) and
``faulted`` (the fault names injected so far).
"""

from __future__ import annotations

#: the receiver's faults, by their genrep.faults names or in Swedish
FAULT_WORDS = {"stopped": "stopped", "killed": "killed", "hang": "hang", "error503": "error503",
               "stoppad": "stopped", "dödad": "killed", "hänger": "hang", "svarar 503": "error503"}


def take_down(scenario, target: str, fault: str) -> None:
    """Inject the fault named ``fault`` (``stopped``, ``hänger``, ...) into ``target``."""
    name = FAULT_WORDS.get(fault.strip().strip('"'))
    assert name, f"unknown receiver fault {fault!r} (known: {', '.join(FAULT_WORDS)})"
    scenario.faults.inject(target, name)
    scenario.faulted.append(name)


def bring_back(scenario, target: str) -> None:
    scenario.faults.clear(target)
    scenario.faulted.clear()


def back_after(scenario, fault_driver, target: str):
    """A scenario fixture's body (``yield from``): the scenario, then ``target`` back for the next one."""
    yield scenario
    if scenario.faulted:
        fault_driver.clear(target)  # the receiver is back for the next scenario
