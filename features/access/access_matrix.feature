# GENERATED from contracts/access.yaml by `.venv/bin/python -m steps.access_features`: do not edit by hand. Change the matrix
# and regenerate; tests/unit/test_access_features.py fails while this file and the matrix disagree.
@access
Feature: Access rights as a matrix: each role may do what the matrix allows and is refused the rest explicitly
  Access rights and their configuration made up much of the 2024 go-live's day-one incident load.
  One scenario per cell of contracts/access.yaml, performed as the environment profile's test user
  of the role (test_users, never a real directory). A denial is 403 with an OperationOutcome naming
  the missing right, never an empty answer: the patient has a radiology report and a medication
  list, so an empty answer can never mean "nothing there".

  Background:
    Given a registered test patient with a radiology report and a prescription in NLL

  @ACC-001 @happy
  Scenario Outline: A <role> may <action>
    When a test user with the role <role> tries to <action> for the patient
    Then the EHR allows it

    @ACC-003
    Examples: Non-physicians create referrals (a legal requirement)
      | role              | action            |
      # [D] non-physicians must be able to create referrals: a legal requirement logged as a go-live risk in 2024
      | nurse             | create a referral |
      # [D] non-physicians must be able to create referrals (a legal requirement); secretaries register referrals [A]
      | medical secretary | create a referral |
      # [D] non-physicians must be able to create referrals: a legal requirement logged as a go-live risk in 2024
      | physiotherapist   | create a referral |

    Examples: Other actions the matrix allows
      | role              | action                   |
      | physician         | read a radiology report  |
      | physician         | read the medication list |
      | physician         | prescribe                |
      | physician         | create a referral        |
      | physician         | book an appointment      |
      | physician         | sign a record entry      |
      | nurse             | read a radiology report  |
      | nurse             | read the medication list |
      | nurse             | book an appointment      |
      | nurse             | sign a record entry      |
      | assistant nurse   | read the medication list |
      | assistant nurse   | book an appointment      |
      | medical secretary | read a radiology report  |
      | medical secretary | book an appointment      |
      | physiotherapist   | read a radiology report  |
      | physiotherapist   | read the medication list |
      | physiotherapist   | book an appointment      |
      | physiotherapist   | sign a record entry      |

  @ACC-002 @negative
  Scenario Outline: A <role> is refused to <action>, explicitly
    When a test user with the role <role> tries to <action> for the patient
    Then the EHR refuses it explicitly, naming the missing right

    @ACC-R01
    Examples: Patient data the role must not see
      | role              | action                   |
      # [A] patient data only for those who need it in their work (patientdatalagen 4 kap.); radiology reports are not part of an assistant nurse's tasks in this role model
      | assistant nurse   | read a radiology report  |
      # [A] patient data only for those who need it in their work (patientdatalagen 4 kap.); a medical secretary's tasks need no medication list
      | medical secretary | read the medication list |

    Examples: Actions the role must not perform
      | role              | action              |
      # [A] prescribing is a physician's right in this role model; nurses with their own limited prescribing right (förskrivningsrätt) would be a role of their own
      | nurse             | prescribe           |
      # [D] an assistant nurse has no prescribing right
      | assistant nurse   | prescribe           |
      # [A] referrals are created by licensed professionals and medical secretaries in this role model
      | assistant nurse   | create a referral   |
      # [A] entries by an assistant nurse are countersigned by a licensed professional
      | assistant nurse   | sign a record entry |
      # [D] a medical secretary has no prescribing right
      | medical secretary | prescribe           |
      # [A] a secretary writes entries on dictation; the author signs them
      | medical secretary | sign a record entry |
      # [D] a physiotherapist has no prescribing right for medicines
      | physiotherapist   | prescribe           |

  @ACC-R02 @negative
  Scenario: A user the EHR does not know is refused explicitly, never served as another account
    When a user the EHR does not know tries to read a radiology report for the patient
    Then the EHR refuses it explicitly
