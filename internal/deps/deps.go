// Package deps pins modules that packages under construction import. Temporary.
package deps

import (
	_ "filippo.io/age"
	_ "github.com/hashicorp/vault/shamir"
	_ "github.com/skip2/go-qrcode"
)
