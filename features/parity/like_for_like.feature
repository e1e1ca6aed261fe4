@parity
Feature: Every entry point of the EHR is alike
  Users reach the EHR through several entry points: application nodes, desktop pools, load-balancer
  members. In 2024 an extra virtual-desktop pool was set up unlike the others (untested firewall rules):
  login problems and harder prescribing, though the load tests had looked good. Each entry point the
  profile names must pass the same smoke journey and expose the same configuration (contracts/parity.yaml).

  Background:
    Given the entry points of the "ehr" system in the profile

  @PAR-002
  Scenario: The smoke journey passes through every entry point
    When the smoke journey runs through every entry point
    Then the smoke journey passes through each of them

  @PAR-001
  Scenario: Every entry point is configured like the first
    When the configuration fingerprint of every entry point is read
    Then every entry point is configured like the first

  @PAR-003 @negative
  Scenario: No entry point lacks an integration, its schedule templates or the resources of a booking type
    When the configuration fingerprint of every entry point is read
    Then no entry point lacks an integration, its schedule templates or a booking type's resources
