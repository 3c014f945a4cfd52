#!/bin/sh
# deps.sh: checks, before anything is built, that the machine has what
# `make demo` and `make test` need besides Go, and installs what is missing
# when it can (as root, with apt-get); otherwise it says what to install.
#
#   gcc          cgo, which crypto11 (PKCS#11) needs
#   softhsm2     the PKCS#11 token every demo and key test uses
#   opensc       pkcs11-tool, the independent look at token objects
#   openssl      the independent check of certificates, CRLs and seals
#   zbar-tools   zbarimg, the independent QR reader of the online side
#   tmux         the real terminal the TUI and QR display tests run in
#
# With "test" as its argument (make test) it also checks the other PKCS#11
# implementations the tests start themselves (internal/p11test):
#
#   opencryptoki  its soft token, served by pkcsslotd
#   libtpm2-pkcs11-1 libtpm2-pkcs11-tools swtpm swtpm-tools tpm2-tools
#   libtss2-tcti-swtpm0 tpm2-abrmd libtss2-tcti-tabrmd0 dbus
#                 tpm2-pkcs11 over a software TPM behind a private resource manager
#   strace        kills ceremonies at their system calls (ceremony/crash_test.go)
#   poppler-utils pdftotext and pdfinfo, which read the PDF record back
#                 (internal/pdfcheck)
#   time          GNU time, which measures a run's peak memory
#                 (ceremony/memory_test.go)
set -eu
missing=""
command -v "${CC:-gcc}" >/dev/null 2>&1 || command -v cc >/dev/null 2>&1 || missing="$missing gcc"
command -v softhsm2-util >/dev/null 2>&1 || missing="$missing softhsm2"
command -v pkcs11-tool >/dev/null 2>&1 || missing="$missing opensc"
command -v openssl >/dev/null 2>&1 || missing="$missing openssl"
command -v zbarimg >/dev/null 2>&1 || missing="$missing zbar-tools"
command -v tmux >/dev/null 2>&1 || missing="$missing tmux"
if [ "${1:-}" = test ] && command -v dpkg >/dev/null 2>&1; then
	for p in opencryptoki libtpm2-pkcs11-1 libtpm2-pkcs11-tools swtpm swtpm-tools tpm2-tools \
		libtss2-tcti-swtpm0 tpm2-abrmd libtss2-tcti-tabrmd0 dbus strace poppler-utils time; do
		dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"
	done
fi
[ -z "$missing" ] && exit 0
if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
	printf 'Installing:%s\n' "$missing"
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
else
	printf 'ceremony needs:%s. Install them, for example: sudo apt-get install -y%s\n' "$missing" "$missing" >&2
	exit 1
fi
