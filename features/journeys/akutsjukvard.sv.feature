# language: sv
@journey
Egenskap: Patientresor på akutmottagningen
  Patienter som kommer in akut, undersöks med röntgen, får läkemedel förskrivna och läggs in eller
  går hem. Varje resa går genom flera integrationer i den ordning patienten gör.

  @JRN-001 @radiology @nll @multum
  Scenario: Bröstsmärta: akut, DT thorax, läkemedelsavstämning, förskrivning och inläggning
    Givet en testpatient med personnummer
    När patienten skrivs in på akuten
    Så visar journalen vårdkontakten som pågående på "Akutmottagningen"
    När läkaren remitterar patienten till "DT thorax" med frågeställningen "Lungemboli?"
    Så finns remissen i journalen som aktiv
    När RIS besvarar remissen med ett slutligt svar "dt_thorax"
    Så är remissen besvarad och svaret kopplat till remissen
    Givet patienten har en förskrivning i NLL med doseringsanvisningen:
      """
      1 tablett på kvällen enligt AK-mottagningens schema.
      Ta inte tillsammans med NSAID.
      """
    När läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den
    När läkaren förskriver "ibuprofen" till en patient som tar "warfarin"
    Så journalen visar en interaktion av graden "major" mellan "warfarin" och "ibuprofen"
    När patienten flyttas till avdelning "Avdelning 12 Kardiologi"
    Så visar journalen vårdkontakten som pågående på "Avdelning 12 Kardiologi"

  @JRN-002 @radiology
  Scenario: Fall mot utsträckt hand: preliminärt svar, slutligt svar och rättat svar
    Givet en testpatient med personnummer
    När patienten skrivs in på akuten
    Och läkaren remitterar patienten till "Slätröntgen handled" med frågeställningen "Fraktur?"
    Och RIS besvarar remissen med ett preliminärt svar "rtg_handled"
    Och RIS besvarar remissen med ett slutligt svar "rtg_handled_final"
    Och RIS besvarar remissen med ett rättat svar "rtg_handled_corrected"
    Så visar journalen bara senaste versionen av svaret, med status "corrected"
    Och är remissen besvarad och svaret kopplat till remissen
    När patienten skrivs ut
    Så visar journalen vårdkontakten som avslutad

  @JRN-003 @radiology @multum
  Scenario: Nattlig teleradiologi: svaret från extern granskare behåller varje ord
    Givet en testpatient med personnummer
    När patienten skrivs in på akuten
    Och läkaren remitterar patienten till "MR knä" med frågeställningen "Meniskskada?"
    Och RIS besvarar remissen med ett slutligt svar "teleradiologi"
    Så är remissen besvarad och svaret kopplat till remissen
    När läkaren förskriver "naproxen" till en patient som tar "ibuprofen"
    Så visar journalen att "ibuprofen" och "naproxen" är samma sorts läkemedel ("NSAID")

  @JRN-004 @registration @radiology
  Scenario: En person över 100 år: härlett födelsedatum, röntgen och utskrivning
    Givet en testpatient med över 100 år
    När patienten skrivs in på akuten
    Så visar journalen patientens födelsedatum och kön härledda från identiteten
    När läkaren remitterar patienten till "Slätröntgen höft" med frågeställningen "Collumfraktur?"
    Och RIS besvarar remissen med ett slutligt svar "rtg_handled"
    Så är remissen besvarad och svaret kopplat till remissen
    När patienten skrivs ut
    Så visar journalen vårdkontakten som avslutad

  @JRN-005 @registration @multum
  Scenario: En patient med samordningsnummer på akuten får ett läkemedel förskrivet
    Givet en testpatient med samordningsnummer
    När patienten skrivs in på akuten
    Så visar journalen patientens födelsedatum och kön härledda från identiteten
    När läkaren förskriver "clarithromycin" till en patient som tar "simvastatin"
    Så journalen visar en interaktion av graden "major" mellan "simvastatin" och "clarithromycin"

  @JRN-006 @multum
  Scenario: En Multum-server försvinner mitt i ronden: kontrollen görs ändå
    Givet en testpatient med personnummer
    När patienten skrivs in på akuten
    Och läkaren förskriver "ibuprofen" till en patient som tar "warfarin"
    Så journalen visar en interaktion av graden "major" mellan "warfarin" och "ibuprofen"
    När Multum-servern "multum-a" slutar svara mitt i ronden
    Och läkaren förskriver "tramadol" till en patient som tar "sertraline"
    Så journalen visar en interaktion av graden "major" mellan "sertraline" och "tramadol"

  @JRN-007 @multum
  Scenario: Båda Multum-servrarna är nere: förskrivningen visar att kontrollen inte gjordes
    Givet en testpatient med personnummer
    När patienten skrivs in på akuten
    Givet båda Multum-servrarna är nere
    När läkaren förskriver "nitroglycerin" till en patient som tar "sildenafil"
    Så visar journalen att interaktionskontrollen inte utfördes
