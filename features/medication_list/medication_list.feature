@nll
Feature: The EHR shows the national medication list (NLL) exactly as NLL holds it
  The EHR fetches the patient's prescriptions from NLL over FHIR R4 and shows them to the
  clinician. After an NLL update in November 2024 the EHR showed broken line breaks and lost
  words. Every scenario reads the expected text from NLL itself and compares it with what the
  EHR shows.

  Background:
    Given a registered test patient
    And NLL serves release "N"

  @NLL-001 @happy
  Scenario: A multi-line dosage instruction is shown exactly as NLL holds it
    Given the patient has a prescription in NLL whose instruction is:
      """
      Ta 1 tablett morgon och kväll i samband med måltid.
      Ta inte dubbel dos om du har glömt en dos.
      Vid biverkningar: kontakta vårdcentralen.
      """
    When the clinician opens the medication list in the EHR
    Then the EHR shows every prescription as NLL holds it

  @NLL-001 @happy
  Scenario: Every step of a tapering dose is shown, not only the first
    # the golden corpus holds a three-step taper (gc-7: 2 tablets, then 1, then 1/2, 3 days each):
    # three dosageInstructions, each compared with the EHR's step in the same place
    Given the patient has the golden corpus prescriptions in NLL
    When the clinician opens the medication list in the EHR
    Then the EHR shows every prescription as NLL holds it
    And NLL holds a prescription with 3 dosage steps

  @NLL-N01 @negative
  Scenario Outline: Line breaks written as <convention> keep every line and word
    Given the patient has a prescription in NLL whose instruction, with <convention> line breaks, is:
      """
      Dag 1–3: 8 tabletter på morgonen
      Dag 4–6: 6 tabletter på morgonen
      Avbryt inte behandlingen tvärt.
      """
    When the clinician opens the medication list in the EHR
    Then the EHR shows every prescription as NLL holds it

    Examples:
      | convention |
      | LF         |
      | CRLF       |
      | CR         |

  @NLL-N02 @negative
  Scenario: An instruction of exactly 512 characters with åäö is shown in full
    Given the patient has a prescription in NLL whose instruction is 512 characters with åäö
    When the clinician opens the medication list in the EHR
    Then the EHR shows every prescription as NLL holds it

  @NLL-N03 @negative
  Scenario: Words crossing a wrap column, and a word longer than a line, are never dropped
    Given the patient has a prescription in NLL whose instruction is:
      """
      Ta en tablett på morgonen och en på kvällen, inte i samband med mjölkprodukter eller järntabletter.
      Observera: kombinationsbehandlingsrekommendationerna gäller endast under infektionsperioden.
      """
    When the clinician opens the medication list in the EHR
    Then the EHR shows every prescription as NLL holds it
    And NLL's formatted dosage directions keep every word

  @NLL-N05 @negative
  Scenario: An element added in NLL release N+1 is ignored safely
    Given NLL serves release "N+1"
    And the patient has a prescription in NLL whose instruction is:
      """
      1 tablett vid behov, högst 3 per dygn.
      Ej till barn under 12 år.
      """
    When the clinician opens the medication list in the EHR
    Then the EHR shows every prescription as NLL holds it

  @NLL-N05 @negative
  Scenario: A prescription with an unknown modifier extension is withheld and flagged
    Given the patient has a prescription in NLL with an unknown modifier extension, and one without
    When the clinician opens the medication list in the EHR
    Then the prescription with the unknown modifier extension is withheld and flagged, the other is shown

  @NLL-N07 @negative
  Scenario Outline: An instruction NLL withholds (<reason>) is shown as missing, never blank
    Given the patient has a prescription in NLL whose instruction is withheld ("<reason>")
    When the clinician opens the medication list in the EHR
    Then the instruction is shown as missing, not as an empty text

    Examples:
      | reason  |
      | masked  |
      | unknown |

  @NLL-N08 @negative
  Scenario: Only the latest version of a prescription is shown
    Given the patient has a prescription in NLL whose instruction is:
      """
      1 tablett på morgonen.
      """
    When the clinician opens the medication list in the EHR
    And NLL updates the prescription to version 2 with the instruction:
      """
      2 tabletter på morgonen från och med i dag.
      Ingen dos på kvällen.
      """
    And the clinician opens the medication list in the EHR
    Then the EHR shows version "2" of the prescription

  @NLL-N09 @negative
  Scenario Outline: NLL unavailable (<mode>) is shown as unavailable, never as "no medications"
    Given the patient has a prescription in NLL whose instruction is:
      """
      1 tablett morgon och kväll.
      """
    And NLL is unavailable ("<mode>")
    When the clinician opens the medication list in the EHR
    Then the EHR says NLL is unavailable, not that there are no medications

    Examples:
      | mode        |
      | unavailable |
      | hang        |
      | malformed   |
