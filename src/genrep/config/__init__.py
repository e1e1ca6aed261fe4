"""Data in, validated: environment profiles (``profile``) and the contracts, requirement catalogue
and gate rules (``contracts``). Errors name file, key and line."""
