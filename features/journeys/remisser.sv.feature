# language: sv
@journey
Egenskap: Patientresor med remisser till andra enheter
  En remiss från vårdcentralen till röntgen och en konsultremiss mellan enheter på sjukhuset. Varje
  remiss ger avsändaren besked inom avtalad tid, också när den inte kan levereras (2024: ingen
  återkoppling till avsändaren när en remiss inte gick iväg).

  @JRN-015 @referrals @radiology
  Scenario: Från vårdcentral till röntgen: mottagaren nere, besked i tid, remissen skickas igen och besvaras
    Givet en testpatient med personnummer
    När patienten registreras på vårdcentralen "Närhälsan Vårdcentral Sjöbo"
    Så visar journalen vårdkontakten som pågående på "Närhälsan Vårdcentral Sjöbo"
    Givet remissmottagaren är nere (stoppad)
    När läkaren skickar en remiss till "Röntgen SÄS Borås" med frågeställningen "Lungröntgen: pneumoni?"
    Så får avsändaren besked inom avtalad tid att remissen misslyckades med orsaken "mottagaren otillgänglig"
    När remissmottagaren är uppe igen
    Och läkaren skickar remissen igen
    Så får avsändaren besked inom avtalad tid att remissen är levererad
    Och har den mottagande enheten remissen
    Givet svaret "dt_thorax"
    När RIS skickar svaret
    Så kvitterar journalen med AA
    Och svaret som läses tillbaka från journalen är identiskt med det skickade

  @JRN-016 @referrals
  Scenario: Inneliggande patient: konsultremiss mellan enheter, en remiss till en enhet som inte finns, flytt och utskrivning
    Givet en testpatient med personnummer
    När patienten läggs in på avdelning "Avdelning 30 Medicin"
    Så visar journalen vårdkontakten som pågående på "Avdelning 30 Medicin"
    När läkaren skickar en remiss till "Geriatriska kliniken SÄS" med frågeställningen "Geriatrisk bedömning inför utskrivning?"
    Så får avsändaren besked inom avtalad tid att remissen är levererad
    Och har den mottagande enheten remissen
    När läkaren skickar en remiss till en enhet som inte finns
    Så får avsändaren besked inom avtalad tid att remissen misslyckades med orsaken "okänd enhet"
    När patienten flyttas till avdelning "Avdelning 31 Geriatrik"
    Så visar journalen vårdkontakten som pågående på "Avdelning 31 Geriatrik"
    När patienten skrivs ut
    Så visar journalen vårdkontakten som avslutad
