#!/usr/bin/env bash
# Prints the path of a Python interpreter of the wanted minor version range.
#   find-python.sh bot   -> Python >= 3.11 for the bot and its tools
#   find-python.sh rasa  -> Python 3.10 (Rasa 3.6 supports 3.8-3.10 only)
set -u
want=${1:-bot}
ok() { "$1" -c "import sys, venv; v = sys.version_info[:2]; sys.exit(0 if $2 else 1)" 2>/dev/null; }
if [ "$want" = rasa ]; then
  cond="v == (3, 10)"
  candidates="python3.10"
  root=$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")
  for p in "$root"/versions/3.10.*/bin/python3.10 /usr/bin/python3.10 /usr/local/bin/python3.10; do
    [ -x "$p" ] && candidates="$p $candidates"
  done
  hint="Rasa 3.6 needs Python 3.10: install it (e.g. 'pyenv install 3.10' or 'apt-get install python3.10 python3.10-venv') and run make again."
else
  cond="v >= (3, 11)"
  candidates="python3 python3.13 python3.12 python3.11"
  hint="The bot needs Python >= 3.11 with venv: install python3.11 and run make again."
fi
for c in $candidates; do
  p=$(command -v "$c" 2>/dev/null) || continue
  if ok "$p" "$cond"; then echo "$p"; exit 0; fi
done
echo "error: $hint" >&2
exit 1
