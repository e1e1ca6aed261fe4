"""Data in, validated: environment profiles (``profile``, with ``endpoints`` and ``profile_sections``) and
the contracts, requirement catalogue and gate rules (``contracts``, which re-exports one module per
contract: ``catalogue``, ``gate_rules``, ``radiology``, ``nll``, ``multum``, ``referrals``, ``erx``; plus
``access`` and ``parity``; their shared parts in ``contract_parts``). Errors name file, key and line."""
