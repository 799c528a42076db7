"""Digest of each snapshot's tensors (names and bytes), for bench/fingerprint.sh."""
import sys, hashlib
from safetensors.numpy import load_file
for p in sys.argv[1:]:
    t = load_file(p); h = hashlib.md5()
    for k in sorted(t): h.update(k.encode()); h.update(t[k].tobytes())
    print(h.hexdigest(), p.split('/')[-1])
