#!/bin/sh
# Recomputes a keel checksum with standard tools: sed, tr, awk, sha256sum.
# Usage: scripts/checksum.sh FILE   (prints sha256:<hex>)
set -eu
sed -e '1s/^\xEF\xBB\xBF//' -e 's/\r$//' "$1" | tr '\r' '\n' |
  awk 'h == 0 && /^-- keel:/ { next }
       { h = 1; sub(/[ \t]+$/, ""); line[n++] = $0 }
       END {
         s = 0; while (s < n && line[s] == "") s++
         e = n - 1; while (e >= s && line[e] == "") e--
         for (i = s; i <= e; i++) printf "%s%s", line[i], (i < e ? "\n" : "")
       }' |
  sha256sum | sed 's/^\([0-9a-f]*\).*/sha256:\1/'
