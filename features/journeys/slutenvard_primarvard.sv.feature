# language: sv
@journey
Egenskap: Patientresor i slutenvård och primärvård
  Inläggning, flytt mellan avdelningar och utskrivning, och besök på vårdcentralen med
  läkemedelsavstämning mot NLL.

  @JRN-008 @nll
  Scenario: Vårdcentral: läkemedelsavstämning mot NLL med flera förskrivningar
    Givet en testpatient med personnummer
    När patienten registreras på vårdcentralen "Närhälsan Vårdcentral Sjöbo"
    Så visar journalen vårdkontakten som pågående på "Närhälsan Vårdcentral Sjöbo"
    Givet patienten har förskrivningarna ur den gyllene korpusen i NLL
    När läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den

  @JRN-009 @nll
  Scenario: Vårdcentral: NLL är otillgängligt vid avstämningen och kommer tillbaka
    Givet en testpatient med personnummer
    När patienten registreras på vårdcentralen "Närhälsan Vårdcentral Sjöbo"
    Givet patienten har en förskrivning i NLL med doseringsanvisningen:
      """
      1 tablett morgon och kväll.
      Ej vid njursvikt.
      """
    Och NLL är otillgängligt
    När läkaren öppnar läkemedelslistan i journalen
    Så säger journalen att NLL är otillgängligt, inte att patienten saknar läkemedel
    När NLL är tillgängligt igen
    Och läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den

  @JRN-010 @radiology @nll
  Scenario: Inläggning, flytt mellan avdelningar och utskrivning med röntgen och läkemedelslista
    Givet en testpatient med personnummer
    När patienten läggs in på avdelning "Avdelning 30 Medicin"
    Så visar journalen vårdkontakten som pågående på "Avdelning 30 Medicin"
    När läkaren remitterar patienten till "DT thorax" med frågeställningen "Pneumoni?"
    Och RIS besvarar remissen med ett slutligt svar "dt_thorax"
    Så är remissen besvarad och svaret kopplat till remissen
    När patienten flyttas till avdelning "Avdelning 31 Geriatrik"
    Så visar journalen vårdkontakten som pågående på "Avdelning 31 Geriatrik"
    Givet patienten har en förskrivning i NLL med doseringsanvisningen:
      """
      Furosemid 40 mg: 1 tablett på morgonen.
      Vid viktökning mer än 2 kg på tre dygn: kontakta avdelningen.
      """
    När läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den
    När patienten skrivs ut
    Så visar journalen vårdkontakten som avslutad

  @JRN-011 @nll @multum
  Scenario: Antikoagulerad patient: NLL-listan och en interaktion vid förskrivning
    Givet en testpatient med personnummer
    När patienten läggs in på avdelning "Avdelning 12 Kardiologi"
    Givet patienten har förskrivningarna ur den gyllene korpusen i NLL
    När läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den
    När läkaren förskriver "aspirin" till en patient som tar "warfarin"
    Så journalen visar en interaktion av graden "major" mellan "warfarin" och "aspirin"
    När patienten skrivs ut
    Så visar journalen vårdkontakten som avslutad

  @JRN-012 @nll
  Scenario: NLL byter release under vårdtiden: samma text före och efter
    Givet en testpatient med personnummer
    När patienten läggs in på avdelning "Avdelning 30 Medicin"
    Givet patienten har förskrivningarna ur den gyllene korpusen i NLL
    När läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den
    När NLL byter till release "N+1"
    Och läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den

  @JRN-013 @radiology @nll
  Scenario: Från vårdcentral till sjukhus: remiss, svar och inläggning
    Givet en testpatient med personnummer
    När patienten registreras på vårdcentralen "Närhälsan Vårdcentral Sjöbo"
    Och läkaren remitterar patienten till "DT buk" med frågeställningen "Appendicit?"
    Och RIS besvarar remissen med ett slutligt svar "dt_thorax"
    Så är remissen besvarad och svaret kopplat till remissen
    När patienten läggs in på avdelning "Avdelning 40 Kirurgi"
    Så visar journalen vårdkontakten som pågående på "Avdelning 40 Kirurgi"
    Givet patienten har en förskrivning i NLL med doseringsanvisningen:
      """
      Inga läkemedel per os före operation.
      """
    När läkaren öppnar läkemedelslistan i journalen
    Så journalen visar varje förskrivning så som NLL har den

  @JRN-014 @radiology @registration
  Scenario: Geriatrisk patient över 100 år: inläggning, röntgen med tillägg och utskrivning
    Givet en testpatient med över 100 år
    När patienten läggs in på avdelning "Avdelning 31 Geriatrik"
    Så visar journalen patientens födelsedatum och kön härledda från identiteten
    När läkaren remitterar patienten till "DT hjärna" med frågeställningen "Blödning?"
    Och RIS besvarar remissen med ett slutligt svar "dt_thorax"
    Så är remissen besvarad och svaret kopplat till remissen
    När patienten skrivs ut
    Så visar journalen vårdkontakten som avslutad
