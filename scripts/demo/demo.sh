#!/bin/sh
# make demo: a complete rehearsal of the root key generation ceremony on a
# fresh SoftHSM2 token. Replaces .softhsm/ and transcripts/demo/.
set -eu
cd "$(dirname "$0")/../.."

say() { printf '%s\n' "$*"; }

# What the demo needs besides Go: SoftHSM2, OpenSC's pkcs11-tool, openssl.
missing=""
command -v softhsm2-util >/dev/null 2>&1 || missing="$missing softhsm2"
command -v pkcs11-tool >/dev/null 2>&1 || missing="$missing opensc"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
if [ -n "$missing" ]; then
	if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
		say "Installing:$missing"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
	else
		say "make demo needs:$missing. Install them, for example: sudo apt-get install -y$missing" >&2
		exit 1
	fi
fi

module=""
for m in "${SOFTHSM2_MODULE:-}" /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so \
	/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so /usr/lib64/pkcs11/libsofthsm2.so /usr/local/lib/softhsm/libsofthsm2.so; do
	if [ -n "$m" ] && [ -f "$m" ]; then module=$m; break; fi
done
[ -n "$module" ] || { say "make demo: cannot find libsofthsm2.so; set SOFTHSM2_MODULE" >&2; exit 1; }

label=ceremony-demo
rm -rf .softhsm transcripts/demo transcripts/demo-restore
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
for t in "$label" "$label-restore"; do
	cat > ".softhsm/$t.yaml" <<CONF
# HSM config for the demo: a blank SoftHSM2 token slot; the ceremony
# initialises it with this label.
module: $module
token:
  label: $t
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
	--config ".softhsm/$label-restore.yaml" \
	--answers scripts/demo/restore-backup.answers.yaml \
	--input place="Demo lab (make demo)" \
	--input backup=transcripts/demo/artifacts/root-ca.backup \
	--input root_certificate=transcripts/demo/artifacts/root-ca.crt.pem \
	--out transcripts/demo-restore

# An auditor's checks of what was just written.
say
say "== Auditor: both transcripts against the root certificate"
bin/ceremony transcript verify transcripts/demo/transcript.jsonl \
	--root transcripts/demo/artifacts/root-ca.crt.pem
bin/ceremony transcript verify transcripts/demo-restore/transcript.jsonl \
	--root transcripts/demo/artifacts/root-ca.crt.pem
say
say "== The restored key certified the new audit key; openssl checks it against the root"
openssl verify -CAfile transcripts/demo/artifacts/root-ca.crt.pem \
	transcripts/demo-restore/artifacts/transcript-signing.crt.pem
say
say "== Custodians' share audit: three shares against the transcript's manifest"
bin/ceremony shares check --transcript transcripts/demo/transcript.jsonl \
	transcripts/demo/shares/custodian-2.share transcripts/demo/shares/custodian-4.share \
	transcripts/demo/shares/custodian-5.share

cat <<EOF2

The demo wrote transcripts/demo/ (root key generation) and
transcripts/demo-restore/ (restore rehearsal). The shares in
transcripts/demo/shares/ are rehearsal shares: they protect nothing. Inspect:

  bin/ceremony transcript verify transcripts/demo/transcript.jsonl --root transcripts/demo/artifacts/root-ca.crt.pem
  openssl cms -verify -binary -inform DER -in transcripts/demo/transcript.sig \\
      -content transcripts/demo/transcript.jsonl \\
      -CAfile transcripts/demo/artifacts/root-ca.crt.pem -purpose any -out /dev/null
  bin/ceremony shares check --transcript transcripts/demo/transcript.jsonl transcripts/demo/shares/custodian-*.share
  less transcripts/demo/transcript.md
  openssl x509 -in transcripts/demo/artifacts/root-ca.crt.pem -noout -text

and the demo tokens' public objects (no PIN: nobody knows one):

  SOFTHSM2_CONF=.softhsm/softhsm2.conf pkcs11-tool --module $module --token-label $label --list-objects
EOF2
