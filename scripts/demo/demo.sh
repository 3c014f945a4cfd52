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
rm -rf .softhsm transcripts/demo
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

# Random rehearsal PINs, readable only by you, never committed.
(
	umask 077
	od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > .softhsm/user.pin
	od -An -N8 -tx1 /dev/urandom | tr -d ' \n' > .softhsm/so.pin
)
softhsm2-util --init-token --free --label "$label" \
	--pin "$(cat .softhsm/user.pin)" --so-pin "$(cat .softhsm/so.pin)" >/dev/null

cat > .softhsm/hsm.yaml <<CONF
# HSM config for the demo: SoftHSM2 token created by make demo.
module: $module
token:
  label: $label
CONF

bin/ceremony run scripts/root-key-generation.yaml \
	--config .softhsm/hsm.yaml \
	--answers scripts/demo/root-key-generation.answers.yaml \
	--input place="Demo lab (make demo)" \
	--out transcripts/demo

# An auditor's check of what was just written.
echo
bin/ceremony transcript verify transcripts/demo/transcript.jsonl \
	--root transcripts/demo/artifacts/root-ca.crt.pem

cat <<EOF2

The demo ceremony wrote transcripts/demo/. Inspect it:

  bin/ceremony transcript verify transcripts/demo/transcript.jsonl --root transcripts/demo/artifacts/root-ca.crt.pem
  openssl cms -verify -binary -inform DER -in transcripts/demo/transcript.sig \\
      -content transcripts/demo/transcript.jsonl \\
      -CAfile transcripts/demo/artifacts/root-ca.crt.pem -purpose any -out /dev/null
  less transcripts/demo/transcript.md
  openssl x509 -in transcripts/demo/artifacts/root-ca.crt.pem -noout -text

and the demo token:

  SOFTHSM2_CONF=.softhsm/softhsm2.conf pkcs11-tool --module $module \\
      --token-label $label --login --pin "\$(cat .softhsm/user.pin)" --list-objects
EOF2
