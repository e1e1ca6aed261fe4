"""What steps and load users call, one module per integration: radiology (RIS -> EHR over MLLP,
read back over FHIR), NLL and the EHR's medication list, Multum through the EHR's prescribing API,
and the NLL contract-drift check. Their simulators are in ``genrep.sim``."""
