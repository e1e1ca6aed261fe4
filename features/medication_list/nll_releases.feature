@nll
Feature: A new NLL release changes nothing a clinician reads, and contract drift fails loudly
  NLL ships numbered releases. One release cut a maxLength from 512 to 256; others added or moved
  elements or changed text formatting. The golden corpus is replayed across release N and N+1,
  and the consumer's contract is checked against what NLL publishes.

  Background:
    Given a registered test patient
    And NLL serves release "N"

  @NLL-N10 @negative
  Scenario: The golden corpus reads the same through release N and release N+1
    Given the patient has the golden corpus prescriptions in NLL
    When the clinician opens the medication list under release "N" and under release "N+1"
    Then the texts shown are the same under both releases and equal NLL's

  @NLL-N06 @negative
  Scenario: The NLL contract matches release N
    Given the patient has the golden corpus prescriptions in NLL
    When the NLL contract is checked against NLL
    Then the contract check reports no breaking drift

  @NLL-N06 @negative
  Scenario: Release N+1's reduced maxLength is reported as breaking drift
    Given NLL serves release "N+1"
    When the NLL contract is checked against NLL
    Then the contract check reports breaking drift of "MedicationRequest.dosageInstruction.patientInstruction": 512 -> 256
