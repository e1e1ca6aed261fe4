@referrals
Feature: A referral that cannot be delivered comes back to its sender, with the reason, in time
  A clinician sends a referral through the EHR to another unit. In 2024 there was no feedback to the
  sender when a referral failed to send: it looked sent, and nobody learned otherwise. Whatever becomes
  of a referral (delivered, unit unknown, receiver down, rejected), the sender is told within the
  contract's bound (contracts/referrals.yaml), with the reason when it failed.

  Background:
    Given a registered test patient

  @REF-001 @happy
  Scenario: A referral to a known unit is delivered and the sender is told so
    When the clinician sends a referral to "Röntgen SÄS Borås" with the question "Lungröntgen: pneumoni?"
    Then the sender is told within the bound that the referral was delivered
    And the receiving unit has the referral

  @REF-002 @REF-R01 @negative
  Scenario: A referral to a unit that does not exist comes back failed as unit-unknown
    When the clinician sends a referral to a unit that does not exist
    Then the sender is told within the bound that the referral failed with the reason "unit-unknown"

  @REF-002 @REF-R02 @negative
  Scenario Outline: A referral the receiving system cannot take (<fault>) comes back failed, and is delivered when resent
    Given the referral receiver is down (<fault>)
    When the clinician sends a referral to "Medicinkliniken SÄS" with the question "Bedömning av hjärtsvikt?"
    Then the sender is told within the bound that the referral failed with the reason "receiver-unavailable"
    When the referral receiver is back
    And the clinician sends the referral again
    Then the sender is told within the bound that the referral was delivered
    And the receiving unit has the referral

    Examples:
      | fault    |
      | stopped  |
      | killed   |
      | hang     |
      | error503 |

  @REF-002 @REF-R03 @negative
  Scenario: A referral the receiving unit rejects comes back as rejected, with the unit's own reason
    When the clinician sends a referral to "Fysioterapin Sjöbo" with the question "Rehabilitering efter handledsfraktur?"
    Then the sender is told within the bound that the referral failed with the reason "rejected"
    And the sender sees the receiving unit's own reason
