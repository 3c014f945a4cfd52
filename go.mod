module github.com/devicepki/ceremony

go 1.26.0

require (
	github.com/ThalesIgnite/crypto11 v1.2.5
	github.com/goccy/go-yaml v1.19.2
	github.com/miekg/pkcs11 v1.1.2
	github.com/rogpeppe/go-internal v1.16.0
	github.com/smallstep/pkcs7 v0.2.3
	golang.org/x/text v0.43.0
)

require (
	github.com/pkg/errors v0.8.1 // indirect
	github.com/thales-e-security/pool v0.0.2 // indirect
	golang.org/x/sys v0.48.0 // indirect
	golang.org/x/tools v0.51.0 // indirect
)
