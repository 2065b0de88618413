#!/bin/bash
# The inference-core benchmark of docs/PERFORMANCE.md: 3 x (decode 1 seq, decode 8 seqs, prefill 512),
# then a 4k-context run under -Xmx1g. Needs /tmp/baton-1b.gguf (bin/baton model random --preset 1b --out /tmp/baton-1b.gguf).
cd "$(dirname "$0")/.."
M=/tmp/baton-1b.gguf
ids=$(python3 -c "print(','.join(str((i*7919)%120000+10) for i in range(512)))")
for rep in 1 2 3; do
  echo "== rep $rep decode1 $(uptime)"; bin/baton generate -m $M --prompt-ids 1,2,3,4,5,6,7,8 -n 64 --ignore-eos --json --bandwidth 2>/dev/null | sed 's/"token_ids":\[[^]]*\],//; s/"text":"[^"]*",//'
  echo "== rep $rep decode8 $(uptime)"; bin/baton generate -m $M --prompt-ids 1,2,3,4,5,6,7,8 -n 32 --ignore-eos --json --batch 8 2>/dev/null | sed 's/"token_ids":\[[^]]*\],//; s/"text":"[^"]*",//'
  echo "== rep $rep prefill512 $(uptime)"; bin/baton generate -m $M --prompt-ids $ids -n 2 --ignore-eos --json 2>/dev/null | sed 's/"token_ids":\[[^]]*\],//; s/"text":"[^"]*",//'
done
echo "== mem4k $(uptime)"
ids4=$(python3 -c "print(','.join(str((i*7919)%120000+10) for i in range(4000)))")
BATON_JAVA_OPTS="-Xmx1g" bin/baton generate -m $M --prompt-ids $ids4 -n 8 --ignore-eos --json -c 4096 2>/dev/null | sed 's/"token_ids":\[[^]]*\],//; s/"text":"[^"]*",//'
echo "== done $(uptime)"
