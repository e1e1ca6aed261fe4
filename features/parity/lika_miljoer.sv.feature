# language: sv
@parity
Egenskap: Varje ingång till journalsystemet är likadan
  Användare når journalsystemet genom flera ingångar: applikationsnoder, skrivbordspooler,
  lastbalanserarens medlemmar. 2024 sattes en extra pool för virtuella skrivbord upp annorlunda än de
  andra (otestade brandväggsregler): inloggningsproblem och svårare förskrivning. Varje ingång som
  profilen namnger ska klara samma smoke-flöde och visa samma konfiguration (contracts/parity.yaml).

  Bakgrund:
    Givet ingångarna till systemet "ehr" i profilen

  @PAR-002
  Scenario: Smoke-flödet lyckas genom varje ingång
    När smoke-flödet körs genom varje ingång
    Så smoke-flödet lyckas genom var och en av dem

  @PAR-001
  Scenario: Varje ingång är konfigurerad som den första
    När konfigurationens fingeravtryck läses från varje ingång
    Så varje ingång är konfigurerad som den första

  @PAR-003 @negative
  Scenario: Ingen ingång saknar en integration, sina schemamallar eller en bokningstyps resurser
    När konfigurationens fingeravtryck läses från varje ingång
    Så ingen ingång saknar en integration, sina schemamallar eller en bokningstyps resurser
