"""pytest-bdd step definitions: thin wrappers that call the genrep library."""
