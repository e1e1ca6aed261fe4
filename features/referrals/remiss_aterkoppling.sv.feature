# language: sv
@referrals
Egenskap: En remiss som inte kan levereras kommer tillbaka till avsändaren, med orsak, i tid
  Läkaren skickar en remiss via journalen till en annan enhet. 2024 fick avsändaren ingen återkoppling
  när en remiss inte gick iväg: den såg skickad ut. Vad som än händer med remissen (levererad, okänd
  enhet, mottagaren nere, avvisad) får avsändaren besked inom kontraktets gräns
  (contracts/referrals.yaml), med orsaken när den misslyckades.

  Bakgrund:
    Givet en registrerad testpatient

  @REF-001 @happy
  Scenario: En remiss till en känd enhet levereras och avsändaren får veta det
    När läkaren skickar en remiss till "Geriatriska kliniken SÄS" med frågeställningen "Geriatrisk bedömning?"
    Så får avsändaren besked inom avtalad tid att remissen är levererad
    Och har den mottagande enheten remissen

  @REF-002 @REF-R01 @negative
  Scenario: En remiss till en enhet som inte finns kommer tillbaka som misslyckad: okänd enhet
    När läkaren skickar en remiss till en enhet som inte finns
    Så får avsändaren besked inom avtalad tid att remissen misslyckades med orsaken "okänd enhet"

  @REF-002 @REF-R02 @negative
  Scenariomall: Mottagaren är nere (<fel>): remissen kommer tillbaka som misslyckad och levereras när den skickas igen
    Givet remissmottagaren är nere (<fel>)
    När läkaren skickar en remiss till "Röntgen SÄS Borås" med frågeställningen "Lungröntgen: pneumoni?"
    Så får avsändaren besked inom avtalad tid att remissen misslyckades med orsaken "mottagaren otillgänglig"
    När remissmottagaren är uppe igen
    Och läkaren skickar remissen igen
    Så får avsändaren besked inom avtalad tid att remissen är levererad

    Exempel:
      | fel        |
      | stoppad    |
      | hänger     |
      | svarar 503 |

  @REF-002 @REF-R03 @negative
  Scenario: En remiss som enheten avvisar kommer tillbaka som avvisad, med enhetens egen motivering
    När läkaren skickar en remiss till "Fysioterapin Sjöbo" med frågeställningen "Rehabilitering efter fraktur?"
    Så får avsändaren besked inom avtalad tid att remissen misslyckades med orsaken "avvisad"
    Och ser avsändaren den mottagande enhetens egen motivering
