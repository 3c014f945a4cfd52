#!/bin/sh
# check-transcript.sh [-c CRL.pem]... DIR ROOT.pem [AUDIT-CERT-SHA256]
#
# A strict check of a ceremony directory with stock tools only (openssl,
# sha256sum, awk, sed, grep, tr, cut, head, tail, mktemp, date): no project
# code.
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
#  b2. with -c CRL.pem (repeatable: the root's CRLs, as the issue-crl
#     ceremony writes them, artifacts/root-ca.crl.pem): each CRL must be
#     signed by ROOT.pem (openssl crl -CAfile ROOT.pem -noout prints
#     "verify OK"; else exit 2, the file is the wrong one), and the audit
#     certificate's serial must not be on it, by this time rule: a
#     revocation for Key Compromise, CA Compromise, AA Compromise or
#     Unspecified (or with no reason code) refuses the seal whatever its
#     date, since a forger holding a leaked key seals whatever they like,
#     dated as they like; any other reason (Superseded, Cessation Of
#     Operation...) retires the certificate without saying its key leaked,
#     and refuses the seal only if the revocation date is at or before the
#     seal event's time. `ceremony transcript verify --crl` applies the same
#     rule, and also to every certificate the root issued whose fingerprint
#     the transcript records; this script looks only at the audit
#     certificate;
#  c. every artifact: each artifact-written path not later withdrawn exists
#     with its recorded SHA-256, and DIR/artifacts holds no other file;
#  c2. every artifact that is a CRL (PEM or DER) has a lastUpdate at or
#     before the seal event's time: a CRL the ceremony issued was valid when
#     it was sealed. Whether it is current now (nextUpdate not passed) is a
#     NOTE line, never a failure, as in `ceremony transcript verify`.
#
# With AUDIT-CERT-SHA256 (from the paper record, as openssl prints it),
# the seal must also be by exactly that certificate.
#
# The lenient `openssl cms -verify ... -CAfile ROOT` accepts a seal by ANY
# certificate chained to the root; this script does not.
#
# Measured with OpenSSL 3.0, and why b2 reads the CRL's text with awk:
# `openssl crl -CAfile ROOT.pem -noout` exits 0 even when the signature
# does not verify (it prints "verify failure"), so the script looks for
# "verify OK". `openssl verify -crl_check -CRLfile CRL -attime SEAL` cannot
# apply the time rule: it refuses a listed certificate whatever the reason
# and the revocation date (a Superseded entry dated after -attime too), and
# with -attime before the CRL's lastUpdate (any CRL issued after the seal)
# it reports "CRL is not yet valid" as well.
#
# Exit status: 0 verified, 1 a check failed (one line on stderr naming it),
# 2 usage error or a missing tool.
set -u

prog=check-transcript
usage() { echo "usage: $prog [-c CRL.pem]... DIR ROOT.pem [AUDIT-CERT-SHA256]" >&2; exit 2; }
fail() { echo "$prog: FAILED: $*" >&2; exit 1; }
ok() { echo "OK: $*"; }
note() { echo "NOTE: $*"; }

# The CRLs, as crl_1, crl_2, ... (eval assigns the value, never expands it).
ncrl=0
while getopts c: opt; do
	case $opt in
	c)
		[ -f "$OPTARG" ] || { echo "$prog: no such CRL file: $OPTARG" >&2; exit 2; }
		ncrl=$((ncrl + 1))
		eval "crl_$ncrl=\$OPTARG"
		;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
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
for t in openssl sha256sum awk sed grep tr cut head tail mktemp date; do
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
# epoch(Y, M, D, h, m, s) in awk: seconds since 1970 of a UTC time.
epoch_awk='function epoch(y, mo, d, h, mi, s,   days) {
	y += 0; mo += 0; d += 0
	if (mo <= 2) { y--; mo += 12 }
	days = 365 * y + int(y / 4) - int(y / 100) + int(y / 400) + int((153 * (mo - 3) + 2) / 5) + d - 719469
	return sprintf("%.0f", days * 86400 + h * 3600 + mi * 60 + int(s))
}'
at=$(printf '%s\n' "$seal_line" | sed -n 's/^{"seq":[0-9]*,"time":"\([0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\)[.0-9]*Z".*/\1/p' |
	awk -F'[-T:]' "$epoch_awk"' { print epoch($1, $2, $3, $4, $5, $6) }')
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

# ---- b2. the root's CRLs -------------------------------------------------
# Each CRL entry as "SERIAL|EPOCH|REASON|DATE" (serial upper-case hex
# without leading zeros, as the signer's below; the reason and the date as
# openssl prints them).
crl_entries() {
	openssl crl -in "$1" -noout -text 2>/dev/null | awk "$epoch_awk"'
	function when(mon, d, hms, y,   t) {
		split(hms, t, ":")
		return epoch(y, (index("JanFebMarAprMayJunJulAugSepOctNovDec", mon) + 2) / 3, d, t[1], t[2], t[3])
	}
	function flush() { if (s != "") print s "|" e "|" r "|" dt; s = "" }
	/^Revoked Certificates:/ { on = 1; next }
	!on { next }
	/^    Serial Number:/ { flush(); s = $3; gsub(/:/, "", s); s = toupper(s); sub(/^0+/, "", s); e = ""; dt = ""; r = "Unspecified"; next }
	/^        Revocation Date:/ { e = when($3, $4, $5, $6); dt = $3 " " $4 " " $5 " " $6 " " $7; next }
	/X509v3 CRL Reason Code:/ { want = 1; next }
	want { r = $0; sub(/^ +/, "", r); sub(/ +$/, "", r); want = 0; next }
	/^    [^ ]/ { flush(); on = 0 }
	END { flush() }'
}
if [ "$ncrl" -gt 0 ]; then
	serial=$(openssl x509 -in "$tmp/signer.pem" -noout -serial 2>/dev/null | sed 's/^serial=//' | tr -d ':' | tr 'a-f' 'A-F' | sed 's/^0*//')
	[ -n "$serial" ] || fail "audit certificate: no serial number"
	i=0
	while [ "$i" -lt "$ncrl" ]; do
		i=$((i + 1))
		eval "c=\$crl_$i"
		v=$(openssl crl -in "$c" -CAfile "$root" -noout 2>&1)
		[ "$v" = "verify OK" ] ||
			{ echo "$prog: CRL $c is not signed by $root: $(printf '%s' "$v" | tr '\n' ' ')" >&2; exit 2; }
		num=$(openssl crl -in "$c" -noout -crlnumber 2>/dev/null | sed 's/^crlNumber=//')
		crl_entries "$c" >"$tmp/crl" || fail "CRL $c: its entries could not be read"
		hit=$(awk -F'|' -v s="$serial" '$1 == s { print; exit }' "$tmp/crl")
		if [ -z "$hit" ]; then
			ok "CRL $c (number $num) is signed by the root and does not list the audit certificate (serial $serial)"
			continue
		fi
		rev=$(printf '%s\n' "$hit" | cut -d'|' -f2)
		reason=$(printf '%s\n' "$hit" | cut -d'|' -f3)
		when=$(printf '%s\n' "$hit" | cut -d'|' -f4)
		case $reason in
		"Key Compromise" | "CA Compromise" | "AA Compromise" | Unspecified)
			fail "CRL $c revokes the audit certificate (serial $serial), reason $reason, on $when: a revocation for this reason refuses the seal whatever its date"
			;;
		esac
		[ -n "$rev" ] || fail "CRL $c lists the audit certificate (serial $serial) without a readable revocation date"
		[ "$rev" -gt "$at" ] ||
			fail "CRL $c revokes the audit certificate (serial $serial), reason $reason, on $when: at or before the seal (event $n)"
		ok "CRL $c (number $num) is signed by the root and lists the audit certificate (serial $serial), reason $reason, on $when, after the seal (event $n): a revocation for this reason does not reach back"
	done
fi

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

# ---- c2. the CRLs among the artifacts -----------------------------------
# A CRL the ceremony issued (issue-crl's artifacts/root-ca.crl.pem) was
# valid when the transcript was sealed: a lastUpdate after the seal event's
# time fails. Whether it is still current is a NOTE, never a failure: a
# sealed ceremony's CRL going stale later is expected.
now=$(date -u +%s)
crl_when() { # "Nov 21 07:00:00 2026 GMT" -> seconds since 1970
	printf '%s\n' "$1" | awk "$epoch_awk"'{ split($3, t, ":")
		print epoch($4, (index("JanFebMarAprMayJunJulAugSepOctNovDec", $1) + 2) / 3, $2, t[1], t[2], t[3]) }'
}
while read -r p h; do
	f=$dir/$p
	form=PEM
	if ! grep -q -e '-----BEGIN X509 CRL-----' -- "$f"; then
		# DER: a CRL, or a certificate or key, say.
		openssl crl -inform DER -in "$f" -noout >/dev/null 2>&1 || continue
		form=DER
	fi
	u=$(openssl crl -inform "$form" -in "$f" -noout -lastupdate -nextupdate 2>/dev/null) ||
		fail "$p: an X509 CRL that does not parse"
	last=$(printf '%s\n' "$u" | sed -n 's/^lastUpdate=//p')
	next=$(printf '%s\n' "$u" | sed -n 's/^nextUpdate=//p')
	le=$(crl_when "$last")
	[ -n "$le" ] || fail "$p: no readable lastUpdate in the CRL"
	[ "$le" -le "$at" ] ||
		fail "$p: CRL lastUpdate $last is after the seal (event $n): it was not valid when the transcript was sealed, so the ceremony did not issue it as recorded"
	case $next in
	'' | NONE) note "$p: CRL issued by the seal (lastUpdate $last); it gives no nextUpdate, so its currency is unknown" ;;
	*)
		if [ "$(crl_when "$next")" -lt "$now" ]; then
			note "$p: CRL issued by the seal (lastUpdate $last), stale now (nextUpdate $next): a newer CRL should exist; the sealed transcript is not at fault"
		else
			ok "$p: CRL issued by the seal (lastUpdate $last), current now (nextUpdate $next)"
		fi
		;;
	esac
done <"$tmp/live"

echo "VERIFIED: $dir $n events, final digest $head"
