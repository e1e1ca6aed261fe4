@radiology
Feature: Generated report texts reach the EHR exactly as sent
  The other scenarios send texts a tester chose; these send texts nobody chose. Each text is
  generated with the exact text a correct EHR must show (tables, negation words, HL7 delimiters and
  escapes, a conclusion paragraph, lengths up to past the agreed maximum), sent as a final report
  over MLLP, read back in every representation the EHR serves (each presentedForm, the conclusion,
  the Observations) and compared. The texts are seeded from the scenario's name, so a scenario sends
  the same texts every run; a failure names the first failing text and the smallest one shrinking
  reached, with its classification.

  Background:
    Given the radiology contract
    And a registered test patient

  @RAD-001 @RAD-R01 @RAD-R12 @negative
  Scenario: Generated report texts with tables and negations are stored exactly as sent
    Given 50 generated report texts with tables and negations
    When each is sent to the EHR as a final report
    Then each is stored exactly as sent in every representation
