#!/bin/sh
# check-transcript.sh DIR ROOT.pem [AUDIT-CERT-SHA256]
#
# A strict check of a ceremony directory with stock tools only (openssl,
# sha256sum, awk, sed, grep, tr, cut, head, tail, mktemp): no project code.
#
# It checks, in order, and stops at the first failure:
#  a. the hash chain of DIR/transcript.jsonl: seq 1,2,3,... without gaps,
#     each prev the SHA-256 of the previous line (64 zeros for line 1), the
#     file ends with a newline, the last event and only it is
#     transcript-sealed;
#  b. the seal DIR/transcript.sig, pinned to the ceremony's audit
#     certificate: the CMS signer certificate's SHA-256 fingerprint equals the
#     seal event's audit_certificate.sha256; it is issued directly by
#     ROOT.pem (self-signed), carries the documentSigning EKU
#     (1.3.6.1.5.5.7.3.36) and is not a CA; the CMS verifies with only that
#     certificate (-nointern -certfile signer); certificates are checked as
#     of the seal event's time, as `ceremony transcript verify` checks them
#     at the signing time;
#  c. every artifact: each artifact-written path not later withdrawn exists
#     with its recorded SHA-256, and DIR/artifacts holds no other file.
#
# With AUDIT-CERT-SHA256 (from the paper record, as openssl prints it),
# the seal must also be by exactly that certificate.
#
# The lenient `openssl cms -verify ... -CAfile ROOT` accepts a seal by ANY
# certificate chained to the root; this script does not.
#
# Exit status: 0 verified, 1 a check failed (one line on stderr naming it),
# 2 usage error or a missing tool.
set -u

prog=check-transcript
usage() { echo "usage: $prog DIR ROOT.pem [AUDIT-CERT-SHA256]" >&2; exit 2; }
fail() { echo "$prog: FAILED: $*" >&2; exit 1; }
ok() { echo "OK: $*"; }

[ "$#" -eq 2 ] || [ "$#" -eq 3 ] || usage
dir=$1
root=$2
# The audit certificate's fingerprint from the paper record, if given
# (as openssl prints it, colons and case as you like): the seal must be
# by that certificate, not merely by one the transcript names.
pin=
if [ "$#" -eq 3 ]; then
	pin=$(printf '%s' "$3" | sed 's/^.*[Ff]ingerprint=//' | tr -d ': ' | tr 'A-F' 'a-f')
	printf '%s' "$pin" | grep -Eq '^[0-9a-f]{64}$' ||
		{ echo "$prog: AUDIT-CERT-SHA256: give the 64 hex digits of the audit certificate's SHA-256 fingerprint" >&2; exit 2; }
fi
[ -d "$dir" ] || { echo "$prog: not a directory: $dir" >&2; exit 2; }
[ -f "$root" ] || { echo "$prog: no such file: $root" >&2; exit 2; }
for t in openssl sha256sum awk sed grep tr cut head tail mktemp; do
	command -v "$t" >/dev/null 2>&1 || { echo "$prog: missing tool: $t" >&2; exit 2; }
done

tr_file=$dir/transcript.jsonl
sig=$dir/transcript.sig
[ -f "$tr_file" ] || fail "no transcript: $tr_file"
[ -f "$sig" ] || fail "no seal signature: $sig"

tmp=$(mktemp -d) || { echo "$prog: mktemp failed" >&2; exit 2; }
trap 'rm -rf -- "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# ---- a. the hash chain -------------------------------------------------
[ -s "$tr_file" ] || fail "transcript is empty"
[ "$(tail -c 1 -- "$tr_file" | tr '\n' N)" = N ] ||
	fail "transcript does not end with a newline"

prev=0000000000000000000000000000000000000000000000000000000000000000
n=0
sealed=0
while IFS= read -r line; do
	n=$((n + 1))
	[ "$sealed" -eq 0 ] || fail "event $n follows the transcript-sealed event"
	case $line in
	"{\"seq\":$n,\"time\":"*) ;;
	*) fail "event $n: seq is not $n" ;;
	esac
	rest=${line#*,\"time\":\"}
	rest=${rest#*\",}
	case $rest in
	"\"prev\":\"$prev\","*) ;;
	*) fail "event $n: prev is not the SHA-256 of event $((n - 1))" ;;
	esac
	case $rest in
	"\"prev\":\"$prev\",\"type\":\"transcript-sealed\","*) sealed=1 ;;
	esac
	prev=$(printf '%s' "$line" | sha256sum | cut -d' ' -f1)
done <"$tr_file"
[ "$sealed" -eq 1 ] || fail "event $n: the last event is not transcript-sealed (unsealed transcript)"
ok "hash chain: $n events, last transcript-sealed, head $prev"
head=$prev
seal_line=$(tail -n 1 -- "$tr_file")

# ---- b. the seal --------------------------------------------------------
# The audit certificate's fingerprint as the seal event records it.
want=$(printf '%s\n' "$seal_line" |
	sed -n 's/.*"audit_certificate":{[^}]*"sha256":"\([0-9a-f]\{64\}\)".*/\1/p')
[ -n "$want" ] || fail "event $n: no audit_certificate.sha256 in the seal event"
[ -z "$pin" ] || [ "$pin" = "$want" ] ||
	fail "event $n: the seal event names audit certificate $want, not the pinned $pin"

# Certificates are checked as of the seal event's time (the ceremony's
# own clock), so an audit certificate expired since still verifies.
at=$(printf '%s\n' "$seal_line" | sed -n 's/^{"seq":[0-9]*,"time":"\([0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\)[.0-9]*Z".*/\1/p' |
	awk -F'[-T:]' '{ y = $1; m = $2 + 0; d = $3 + 0; if (m <= 2) { y--; m += 12 }
		days = 365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (m - 3) + 2) / 5) + d - 719469
		printf "%.0f\n", days * 86400 + $4 * 3600 + $5 * 60 + $6 }')
[ -n "$at" ] || fail "event $n: no readable UTC time in the seal event"

# ROOT.pem must be a self-signed certificate.
openssl x509 -in "$root" -noout >/dev/null 2>&1 || fail "$root: not a PEM certificate"
[ "$(grep -c -e "-----BEGIN" -- "$root")" = 1 ] || fail "$root: must hold exactly one certificate"
openssl verify -attime "$at" -x509_strict -CAfile "$root" "$root" >/dev/null 2>&1 ||
	fail "$root: not a self-signed root certificate"

# The certificate that made the signature (chain not yet checked).
openssl cms -verify -binary -inform DER -in "$sig" -content "$tr_file" -noverify \
	-signer "$tmp/signer.pem" -out /dev/null >/dev/null 2>&1 ||
	fail "$sig: the signature does not verify over transcript.jsonl"
real=$(openssl x509 -in "$tmp/signer.pem" -outform DER 2>/dev/null | sha256sum | cut -d' ' -f1)
[ "$real" = "$want" ] ||
	fail "$sig: signed by certificate $real, not the audit certificate $want of event $n"
ok "signer is the audit certificate of event $n ($want)"

openssl verify -attime "$at" -x509_strict -CAfile "$root" "$tmp/signer.pem" >/dev/null 2>&1 ||
	fail "audit certificate is not issued directly by $root"
ok "audit certificate issued directly by the root"

eku=$(openssl x509 -in "$tmp/signer.pem" -noout -ext extendedKeyUsage 2>/dev/null)
case $eku in
*1.3.6.1.5.5.7.3.36* | *"Document Signing"* | *documentSigning*) ;;
*) fail "audit certificate lacks the documentSigning EKU (1.3.6.1.5.5.7.3.36)" ;;
esac
bc=$(openssl x509 -in "$tmp/signer.pem" -noout -ext basicConstraints 2>/dev/null)
case $bc in
*CA:TRUE*) fail "audit certificate is a CA" ;;
esac
ok "audit certificate: documentSigning EKU, not a CA"

openssl cms -verify -binary -inform DER -in "$sig" -content "$tr_file" -nointern \
	-attime "$at" -certfile "$tmp/signer.pem" -CAfile "$root" -purpose any -out /dev/null >/dev/null 2>&1 ||
	fail "$sig: strict CMS verification failed"
ok "seal: CMS signature by the audit certificate over transcript.jsonl, certificates valid at the seal's time"

# ---- c. the artifacts ---------------------------------------------------
# Records, in order: "W path sha256" for written, "D path" for withdrawn.
atype='^\{"seq":[0-9]+,"time":"[^"]*","prev":"[0-9a-f]{64}","type":"artifact-(written|withdrawn)",'
grep -E -- "$atype" "$tr_file" |
	sed -n \
		-e 's/.*"type":"artifact-written",.*"data":{.*"path":"\([^"]*\)","sha256":"\([0-9a-f]\{64\}\)","size":[0-9]*.*/W \1 \2/p' \
		-e 's/.*"type":"artifact-withdrawn",.*"data":{.*"path":"\([^"]*\)".*/D \1/p' \
		>"$tmp/records"
nw=$(grep -c -E -- "$atype" "$tr_file")
nr=$(grep -c '' "$tmp/records")
[ "$nw" = "$nr" ] || fail "an artifact event could not be read ($nw events, $nr understood)"
# Every recorded path, written or withdrawn, must stay inside artifacts/.
bad=$(grep -v -E '^(W artifacts/[a-z0-9][a-z0-9._-]* [0-9a-f]{64}|D artifacts/[a-z0-9][a-z0-9._-]*)$' "$tmp/records" | head -n 1)
[ -z "$bad" ] || fail "artifact path not allowed: ${bad#? }"

# Last word on each path wins: written (with hash) or withdrawn.
awk '{ if ($1 == "W") h[$2] = $3; else delete h[$2]; if (!($2 in seen)) { seen[$2] = 1; o[++k] = $2 } }
	END { for (i = 1; i <= k; i++) if (o[i] in h) print o[i], h[o[i]] }' "$tmp/records" >"$tmp/live"
: >"$tmp/paths"
while read -r p h; do
	printf '%s\n' "$p" | grep -Eq '^artifacts/[a-z0-9][a-z0-9._-]*$' ||
		fail "artifact path not allowed: $p"
	case $p in *..*) fail "artifact path not allowed: $p" ;; esac
	f=$dir/$p
	[ -f "$f" ] && [ ! -L "$f" ] || fail "artifact missing: $p"
	got=$(sha256sum <"$f" | cut -d' ' -f1)
	[ "$got" = "$h" ] || fail "artifact changed: $p (sha256 $got, recorded $h)"
	printf '%s\n' "${p#artifacts/}" >>"$tmp/paths"
done <"$tmp/live"
live=$(grep -c '' "$tmp/paths")
ok "artifacts: $live recorded files present with their SHA-256"

if [ -d "$dir/artifacts" ]; then
	for f in "$dir"/artifacts/* "$dir"/artifacts/.[!.]* "$dir"/artifacts/..?*; do
		[ -e "$f" ] || [ -L "$f" ] || continue
		b=${f##*/}
		# A name the transcript could not have recorded (a newline, a
		# space, an upper-case letter) is unrecorded by definition; the
		# check is by case, so a newline cannot split it into two names.
		case $b in
		'' | *[!a-z0-9._-]* | [!a-z0-9]*) fail "unrecorded file in artifacts/: $(printf '%s' "$b" | tr -c 'a-z0-9._-' '?')" ;;
		esac
		grep -Fxq -- "$b" "$tmp/paths" || fail "unrecorded file in artifacts/: $b"
	done
fi
ok "artifacts/ holds no unrecorded file"

echo "VERIFIED: $dir $n events, final digest $head"
