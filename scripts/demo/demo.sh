#!/bin/sh
# make demo: rehearsals on fresh SoftHSM2 tokens: the root key generation
# ceremony, a restore of its backup, and the signing ceremonies, then ops'
# import of what they carried out. Replaces .softhsm/ and transcripts/demo*/.
# docs/operator-guide.md describes it, and how to rehearse by hand.
set -eu
cd "$(dirname "$0")/../.."

say() { printf '%s\n' "$*"; }

# What the demo needs besides Go (make demo checks it before building too).
sh scripts/demo/deps.sh

module=""
for m in "${SOFTHSM2_MODULE:-}" /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
	/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/lib64/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
	if [ -n "$m" ] && [ -f "$m" ]; then module=$m; break; fi
done
[ -n "$module" ] || { say "make demo: cannot find libsofthsm2.so; set SOFTHSM2_MODULE" >&2; exit 1; }

# Token labels: no label may begin with another, as pkcs11-tool's
# --token-label picks the first token whose label begins with the one given.
label=ceremony-demo
rlabel=restore-demo
rm -rf .softhsm transcripts/demo transcripts/demo-restore transcripts/demo-requests \
	transcripts/demo-factory-berlin transcripts/demo-factory-shenzhen transcripts/demo-server \
	transcripts/demo-firmware transcripts/demo-firmware-token transcripts/demo-verification transcripts/demo-crl \
	transcripts/demo-crl-restored
mkdir -p .softhsm/tokens
chmod 700 .softhsm
cat > .softhsm/softhsm2.conf <<CONF
directories.tokendir = $PWD/.softhsm/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
SOFTHSM2_CONF=$PWD/.softhsm/softhsm2.conf
export SOFTHSM2_CONF

# The ceremony initialises the blank token itself, with PINs derived from an
# activation secret split among the officers: nobody ever sees a PIN.
for t in "$label" "$rlabel"; do
	cat > ".softhsm/$t.yaml" <<CONF
# HSM config for the demo: a blank SoftHSM2 token slot; the ceremony
# initialises it with this label. The build system's token is a second
# token a firmware key ceremony opens beside it.
module: $module
token:
  label: $t
other_tokens:
  firmware-build:
    token: {label: demo-build}
CONF
done

say "== Root key generation rehearsal (3-of-5 officers, 3-of-5 custodians, backup)"
bin/ceremony run scripts/root-key-generation.yaml --rehearsal \
	--config ".softhsm/$label.yaml" \
	--answers scripts/demo/root-key-generation.answers.yaml \
	--input place="Demo lab (make demo)" \
	--out transcripts/demo

say
say "== Restore rehearsal: the backup into a second, blank token, with 3 custodians' shares"
bin/ceremony run scripts/restore-backup.yaml --rehearsal \
	--config ".softhsm/$rlabel.yaml" \
	--answers scripts/demo/restore-backup.answers.yaml \
	--input place="Demo lab (make demo)" \
	--input backup=transcripts/demo/artifacts/root-ca.backup \
	--input root_certificate=transcripts/demo/artifacts/root-ca.crt.pem \
	--out transcripts/demo-restore

# The signing ceremonies run on the root token (ceremony-demo): the
# officers' quorum activates it, the root signs what comes in as CSRs.
# Factory and build system tokens stand in for those sites' HSMs: they are
# initialised here with a demo PIN (a real site keeps its own PIN).
say
say "== Requests: keys generated in a factory token (two lines), the build system's token, and by openssl"
mkdir -p transcripts/demo-requests
umask 077
od -An -N16 -tx1 /dev/urandom | tr -d ' \n' > .softhsm/site.pin
umask 022
for site in factory build; do
	softhsm2-util --init-token --free --label "demo-$site" --pin "$(cat .softhsm/site.pin)" \
		--so-pin "$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')" >/dev/null
	printf 'module: %s\ntoken:\n  label: demo-%s\n' "$module" "$site" > ".softhsm/demo-$site.yaml"
done
bin/ceremony csr --config .softhsm/demo-factory.yaml --label factory-berlin-ca --generate ecdsa-p256 \
	--subject "/C=DE/O=Example Devices GmbH/CN=Example Devices Factory Berlin Issuing CA" \
	--pin-file .softhsm/site.pin --out transcripts/demo-requests/factory-berlin.csr.pem
bin/ceremony csr --config .softhsm/demo-factory.yaml --label factory-shenzhen-ca --generate ecdsa-p256 \
	--subject "/C=DE/O=Example Devices GmbH/CN=Example Devices Factory Shenzhen Issuing CA" \
	--pin-file .softhsm/site.pin --out transcripts/demo-requests/factory-shenzhen.csr.pem
bin/ceremony csr --config .softhsm/demo-build.yaml --label firmware-signing --generate ecdsa-p256 \
	--subject "/C=DE/O=Example Devices GmbH/CN=Example Devices Firmware Signing 2026" \
	--pin-file .softhsm/site.pin --out transcripts/demo-requests/firmware.csr.pem
# The server CA's request comes from stock openssl (its key stays in the demo directory).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-384 -nodes -keyout .softhsm/server-ca.key \
	-subj "/C=DE/O=Example Devices GmbH/CN=Example Devices Server Issuing CA" \
	-out transcripts/demo-requests/server.csr.pem 2>/dev/null

root=transcripts/demo/artifacts/root-ca.crt.pem
# Each signing rehearsal opens the HSM bag the root rehearsal sealed
# (TEB-100235 in its answers); a real ceremony brings the number the last
# ceremony's record shows.
sign() { # sign SCRIPT OUT INPUT...
	script=$1 out=$2; shift 2
	say
	say "== $script -> $out"
	bin/ceremony run "scripts/$script.yaml" --config ".softhsm/$label.yaml" \
		--answers "scripts/demo/$script.answers.yaml" \
		--input place="Demo lab (make demo)" --input root_certificate=$root --input hsm_bag_in=TEB-100235 "$@" --out "$out"
}
sign sign-intermediate transcripts/demo-factory-berlin --input csr=transcripts/demo-requests/factory-berlin.csr.pem
sign sign-intermediate transcripts/demo-factory-shenzhen --input csr=transcripts/demo-requests/factory-shenzhen.csr.pem
sign sign-server-intermediate transcripts/demo-server --input csr=transcripts/demo-requests/server.csr.pem
sign sign-firmware-cert transcripts/demo-firmware --input csr=transcripts/demo-requests/firmware.csr.pem
sign generate-firmware-key transcripts/demo-firmware-token --input firmware_key_label=firmware-signing-2
sign sign-verification-cert transcripts/demo-verification \
	--input code=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
# The Shenzhen line's rig was stolen: the root revokes its intermediate.
cat > transcripts/demo-requests/revocations.yaml <<REV
# Demo: the Shenzhen factory's rig was stolen.
version: 1
revoke:
  - certificate: ../demo-factory-shenzhen/artifacts/intermediate.crt.pem
    reason: key-compromise
REV
sign issue-crl transcripts/demo-crl --input revocations=transcripts/demo-requests/revocations.yaml --input previous_crl=none
# The token restored from backup has no issuance register of its own: its
# first CRL follows the latest one, so the number goes on and Shenzhen stays
# revoked. (A renewal: no new revocation.)
printf 'version: 1\nrevoke: []\n' > transcripts/demo-requests/renew.yaml
say
say "== issue-crl on the restored token -> transcripts/demo-crl-restored"
bin/ceremony run scripts/issue-crl.yaml --config ".softhsm/$rlabel.yaml" \
	--answers scripts/demo/issue-crl-restored.answers.yaml \
	--input place="Demo lab (make demo)" --input root_certificate=$root --input hsm_bag_in=TEB-200002 \
	--input revocations=transcripts/demo-requests/renew.yaml \
	--input previous_crl=transcripts/demo-crl/artifacts/root-ca.crl.pem --out transcripts/demo-crl-restored

# An auditor's checks of what was just written.
say
say "== Auditor: both transcripts against the root certificate"
bin/ceremony transcript verify transcripts/demo/transcript.jsonl \
	--root transcripts/demo/artifacts/root-ca.crt.pem
bin/ceremony transcript verify transcripts/demo-restore/transcript.jsonl \
	--root transcripts/demo/artifacts/root-ca.crt.pem
for d in demo-factory-berlin demo-factory-shenzhen demo-server demo-firmware demo-firmware-token demo-verification demo-crl demo-crl-restored; do
	bin/ceremony transcript verify "transcripts/$d/transcript.jsonl" --root $root
done
say
say "== openssl: every issued certificate against the root; the CRL's signature; the revoked intermediate"
for c in demo-factory-berlin/artifacts/intermediate demo-factory-shenzhen/artifacts/intermediate \
	demo-server/artifacts/intermediate demo-firmware/artifacts/firmware-signing \
	demo-firmware-token/artifacts/firmware-signing demo-verification/artifacts/verification; do
	openssl verify -CAfile $root "transcripts/$c.crt.pem"
done
openssl crl -in transcripts/demo-crl/artifacts/root-ca.crl.pem -CAfile $root -noout -verify
openssl verify -crl_check -CAfile $root -CRLfile transcripts/demo-crl/artifacts/root-ca.crl.pem \
	transcripts/demo-factory-berlin/artifacts/intermediate.crt.pem
for crl in demo-crl demo-crl-restored; do
	if openssl verify -crl_check -CAfile $root -CRLfile transcripts/$crl/artifacts/root-ca.crl.pem \
		transcripts/demo-factory-shenzhen/artifacts/intermediate.crt.pem 2>&1; then
		say "make demo: the revoked Shenzhen intermediate still verifies with $crl" >&2
		exit 1
	fi
done
openssl crl -in transcripts/demo-crl-restored/artifacts/root-ca.crl.pem -noout -crlnumber
say "(the Shenzhen intermediate is rejected as revoked, as it must be)"
say
say "== The restored key certified the new audit key; openssl checks it against the root"
openssl verify -CAfile transcripts/demo/artifacts/root-ca.crt.pem \
	transcripts/demo-restore/artifacts/transcript-signing.crt.pem
say
say "== Custodians' share audit: three shares against the transcript's manifest"
bin/ceremony shares check --transcript transcripts/demo/transcript.jsonl \
	transcripts/demo/shares/custodian-2.share transcripts/demo/shares/custodian-4.share \
	transcripts/demo/shares/custodian-5.share

say
say "== Officers: the root key's protection on both tokens, logged in with three activation shares"
for t in "$label:demo" "$rlabel:demo-restore"; do
	tok=${t%%:*} dir=${t#*:}
	say "token $tok:"
	bin/ceremony token inspect --config ".softhsm/$tok.yaml" \
		transcripts/$dir/shares/officer-1.share transcripts/$dir/shares/officer-3.share \
		transcripts/$dir/shares/officer-5.share > .softhsm/inspect-$tok.txt
	grep -A1 '^private-key  "root-ca"' .softhsm/inspect-$tok.txt
	grep -A1 '^private-key  "root-ca"' .softhsm/inspect-$tok.txt | grep -q ' sensitive=true .* extractable=false .* modifiable=false ' ||
		{ say "make demo: the root key on token $tok is not sensitive, non-extractable and unmodifiable" >&2; exit 1; }
done
grep -A1 '^private-key  "root-ca"' .softhsm/inspect-$label.txt | grep -q ' wrap_with_trusted=true ' ||
	{ say "make demo: the root key on token $label is not wrap-with-trusted" >&2; exit 1; }

say
say "== Ops, online side: every ceremony's QR frames read by zbarimg, in a shuffled order"
online=transcripts/demo-online
rm -rf $online
mkdir -p $online/scanned
for d in demo demo-restore demo-factory-berlin demo-factory-shenzhen demo-server demo-firmware demo-firmware-token demo-verification demo-crl demo-crl-restored; do
	n=$(ls transcripts/$d/qr/frame-*.png | wc -l)
	zbarimg -q -Sdisable -Sqrcode.enable transcripts/$d/qr/frame-*.png 2>/dev/null | shuf > $online/scanned/$d.txt
	got=$(wc -l < $online/scanned/$d.txt)
	[ "$got" -eq "$n" ] || { say "make demo: zbarimg read $got of $n frames of transcripts/$d/qr" >&2; exit 1; }
	bin/ceremony qr import --out $online/$d - < $online/scanned/$d.txt 2>/dev/null | head -1
	for f in $(cd $online/$d && find . -type f | sort); do
		cmp "$online/$d/$f" "transcripts/$d/$f"
	done
done
[ ! -e $online/demo/artifacts/root-ca.backup ] || { say "make demo: the root key backup was carried out" >&2; exit 1; }
say "(every file came back byte for byte; the root key backup never left)"
say
say "== Ops: the same frames as images, through this tool's own decoder"
bin/ceremony qr import --out $online/images-berlin transcripts/demo-factory-berlin/qr/frame-*.png 2>/dev/null | head -1
cmp $online/images-berlin/artifacts/intermediate.crt.pem transcripts/demo-factory-berlin/artifacts/intermediate.crt.pem
say
say "== Ops: import with trust, pinning the root by the fingerprint on the paper record"
fp=$(openssl x509 -in $root -noout -fingerprint -sha256 | cut -d= -f2)
for d in demo-factory-berlin demo-crl; do
	bin/ceremony import --root-fingerprint "$fp" --out $online/trusted/$d - < $online/scanned/$d.txt
done
say
say "== Ops: files carried on removable media, checked together with the CRL"
bin/ceremony import --root $root --out $online/trusted/media \
	$online/demo-factory-berlin/artifacts/intermediate.crt.pem \
	$online/demo-crl/artifacts/root-ca.crl.pem
say
say "== Ops: the Shenzhen intermediate, which that CRL revokes, is refused"
if bin/ceremony import --root $root --out $online/revoked --crl $online/demo-crl/artifacts/root-ca.crl.pem \
	$online/demo-factory-shenzhen/artifacts/intermediate.chain.pem; then
	say "make demo: a revoked intermediate was imported" >&2
	exit 1
fi
[ ! -e $online/revoked ] || { say "make demo: a refused import wrote $online/revoked" >&2; exit 1; }
say "(refused, nothing written)"
say
say "== Ops: a certificate from another root is refused"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout .softhsm/foreign.key \
	-subj "/C=DE/O=Example Devices GmbH/CN=Example Devices Root CA R1" -days 30 -out $online/foreign.crt.pem 2>/dev/null
if bin/ceremony import --root $root --out $online/refused $online/foreign.crt.pem; then
	say "make demo: a certificate of a foreign root was imported" >&2
	exit 1
fi
[ ! -e $online/refused ] || { say "make demo: a refused import wrote $online/refused" >&2; exit 1; }
say "(refused, nothing written)"

cat <<EOF2

The demo wrote transcripts/demo/ (root key generation),
transcripts/demo-restore/ (restore rehearsal), and one directory per signing
ceremony: demo-factory-berlin, demo-factory-shenzhen, demo-server,
demo-firmware, demo-firmware-token (a firmware key generated in a second
token), demo-verification, demo-crl and demo-crl-restored (the next CRL,
from the restored token) (the CSRs they signed are in
transcripts/demo-requests/). Each has qr/: its sealed transcript and public
artifacts as QR frames with a printable sheet; transcripts/demo-online/ is
what ops read back from them with zbarimg and imported against the root. The shares in
transcripts/demo/shares/ are rehearsal shares: they protect nothing. Inspect:

  bin/ceremony transcript verify transcripts/demo/transcript.jsonl --root transcripts/demo/artifacts/root-ca.crt.pem
  openssl cms -verify -binary -inform DER -in transcripts/demo/transcript.sig \\
      -content transcripts/demo/transcript.jsonl \\
      -CAfile transcripts/demo/artifacts/root-ca.crt.pem -purpose any -out /dev/null
  bin/ceremony shares check --transcript transcripts/demo/transcript.jsonl transcripts/demo/shares/custodian-*.share
  SOFTHSM2_CONF=.softhsm/softhsm2.conf bin/ceremony token inspect --config .softhsm/$label.yaml transcripts/demo/shares/officer-[123].share
  less transcripts/demo/transcript.md
  xdg-open transcripts/demo/transcript.pdf  # the same record to print and sign
  openssl x509 -in transcripts/demo/artifacts/root-ca.crt.pem -noout -text
  xdg-open transcripts/demo/qr/sheet.html   # the printable QR sheet of what was carried out
  bin/ceremony qr show transcripts/demo/artifacts/root-ca.crt.pem

and the demo tokens' public objects (no PIN: nobody knows one):

  SOFTHSM2_CONF=.softhsm/softhsm2.conf pkcs11-tool --module $module --token-label $label --list-objects
EOF2
