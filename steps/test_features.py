"""Collects every feature file under features/ as pytest tests."""

from pytest_bdd import scenarios

scenarios("../features")
