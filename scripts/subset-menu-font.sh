#!/usr/bin/env bash
# Makes desktop/fonts/menu-sans.ttf, the font the XEmbed tray menu draws with: DejaVu Sans
# (Debian's fonts-dejavu-core) cut down to the scripts our catalogues use (Latin with its
# extensions, Cyrillic, the punctuation), and renamed as its licence asks of a modified copy.
# Run it again only when a catalogue gains a script; it needs fonttools (pip install fonttools).
set -euo pipefail
cd "$(dirname "$0")/.."
source=/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf
out=desktop/fonts/menu-sans.ttf
pyftsubset "$source" --output-file="$out.tmp" \
  --unicodes="U+0020-007E,U+00A0-024F,U+02B0-02FF,U+0300-036F,U+0400-04FF,U+2010-2027,U+2030-205E,U+20AC,U+2116,U+2190-2193,U+2713" \
  --layout-features='kern,liga,ccmp,locl,mark,mkmk' --no-hinting --desubroutinize
python3 - "$out.tmp" "$out" <<'PY'
import sys
from fontTools.ttLib import TTFont
font = TTFont(sys.argv[1])
for record in font["name"].names:
    if record.nameID in (1, 3, 4, 6, 16):
        text = record.toUnicode()
        text = text.replace("DejaVu Sans", "FM Menu Sans").replace("DejaVuSans", "FMMenuSans")
        record.string = text
font.save(sys.argv[2])
PY
rm "$out.tmp"
ls -l "$out"
