@registration
Feature: Patient identity as a contract: the EHR derives birth date and sex from the number
  Registration (HL7 ADT) sends the personnummer or samordningsnummer; the EHR derives the date of
  birth and sex from it. A date-of-birth problem in patient registration was open on the 2024
  go-live day. Identities come only from the allowlist of Skatteverket's test numbers.

  @REG-002 @negative
  Scenario Outline: The birth date and sex of a <kind> are derived correctly
    Given a test patient with a <kind>
    When the patient is registered at the emergency department
    Then the EHR shows the birth date and sex derived from the identity

    Examples:
      | kind                     |
      | personal identity number |

  @REG-002 @negative
  Scenario: A person over 100 keeps the right century ('+' in the 10-digit form)
    Given a test patient with a personal identity number, over 100 years old
    When the patient is registered at the emergency department
    Then the EHR shows the birth date and sex derived from the identity

  @REG-003 @negative
  Scenario: A samordningsnummer gives the birth date with 60 taken off the day
    Given a test patient with a coordination number
    When the patient is registered at the emergency department
    Then the EHR shows the birth date and sex derived from the identity

  @REG-004 @negative
  Scenario: A reserve number gives no guessed birth date or sex
    Given a test patient with a reserve number
    When the patient is registered at the emergency department
    Then the EHR guesses no birth date and no sex from the reserve number

  @REG-001
  Scenario: Admission, transfer and discharge are reflected in the encounter
    Given a test patient with a personal identity number
    When the patient is admitted to ward "Avdelning 30 Medicin"
    Then the EHR shows the encounter in progress at "Avdelning 30 Medicin"
    When the patient is transferred to ward "Avdelning 31 Geriatrik"
    Then the EHR shows the encounter in progress at "Avdelning 31 Geriatrik"
    When the patient is discharged
    Then the EHR shows the encounter as finished
