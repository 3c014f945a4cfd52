package cli

import (
	"flag"
	"fmt"
	"strings"

	"github.com/devicepki/ceremony/ceremony/activation"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/hsm"
)

const tokenUsage = `Usage:
  ceremony token inspect --config HSM.yaml [SHARE-FILE... | -]

inspect lists the objects on the token the config names: class, label,
id, key type, a certificate's subject, and each private or secret key's
protection attributes (sensitive, extractable, wrap_with_trusted,
modifiable, ...), as the HSM reports them. Given the activation shares of
a quorum of the token's officers (share files, or with - typed or
scanned on standard input), it checks each against the activation record
on the token, rebuilds the secret, logs in with the user PIN derived from
it (never shown) and lists the private objects too. Without shares it
lists what the token shows without a login. It changes nothing on the
token.

Exit status: 0 listed; 1 a share, the config or the token was refused;
2 usage.
`

// keyAttributeOrder is the order an inventory prints key attributes in:
// the protection that matters first.
var keyAttributeOrder = []string{"sensitive", "always_sensitive", "extractable", "never_extractable", "wrap_with_trusted",
	"modifiable", "local", "token", "private", "sign", "decrypt", "unwrap", "derive"}

var tokenCmd = &Command{
	Name: "token", Usage: tokenUsage,
	Commands: []*Command{{
		Name: "inspect", Usage: tokenUsage,
		Flags: func(fs *flag.FlagSet) Run {
			configPath := fs.String("config", "", "HSM config `FILE`: PKCS#11 module path and token label or serial")
			return func(env *Env, pos []string) error {
				return tokenInspect(env, *configPath, pos)
			}
		},
	}},
}

func tokenInspect(env *Env, configPath string, pos []string) error {
	stdout := env.Stdout
	if configPath == "" {
		return usagef("--config FILE is required: it names the PKCS#11 module and the token")
	}
	inputs, err := readAllShares(pos, env.Stdin)
	defer wipeShares(inputs)
	if err != nil {
		return err
	}
	cfg, err := hsm.LoadConfig(configPath)
	if err != nil {
		return err
	}
	tok, err := hsm.Open(cfg)
	if err != nil {
		return err
	}
	defer tok.Close()
	info := tok.Info()
	login := "not logged in: only the objects the token shows without a login are listed; give a quorum of officers' activation shares to list its keys"
	if len(inputs) > 0 {
		n, err := activationLogin(tok, cfg.ActivationRecord, inputs)
		if err != nil {
			return err
		}
		login = fmt.Sprintf("logged in with the user PIN derived from %d activation shares (%s); the PIN is not shown", len(inputs), n)
	}
	objs, err := tok.Inventory()
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "HSM token %q (%s %s, serial %s): %s\n\n", info.Label, info.Manufacturer, info.Model, info.Serial, login)
	for _, o := range objs {
		fmt.Fprintln(stdout, describeObject(o))
	}
	fmt.Fprintf(stdout, "\n%d object(s); nothing was changed on the token.\n", len(objs))
	return nil
}

// activationLogin checks activation shares against the record on the
// token, rebuilds the secret, and logs in with the user PIN derived from
// it. It returns a description of the split.
func activationLogin(tok *hsm.Token, recordFile string, inputs []shareInput) (string, error) {
	so, user, how, err := activationPINs(tok, recordFile, inputs)
	if err != nil {
		return "", err
	}
	so.Wipe()
	defer user.Wipe()
	if err := tok.Login(user); err != nil {
		return "", fmt.Errorf("the shares match the activation record, but the token rejects the PIN derived from them: %w", err)
	}
	return how, nil
}

// activationPINs checks activation shares against the token's activation
// record, rebuilds the secret and derives the token's PINs from it. It
// returns them (the caller wipes them) and a description of the split.
func activationPINs(tok *hsm.Token, recordFile string, inputs []shareInput) (so, user *secret.Secret, how string, err error) {
	fail := func(err error) (*secret.Secret, *secret.Secret, string, error) { return nil, nil, "", err }
	rec, _, _, err := activation.Load(tok, recordFile)
	if err != nil {
		return fail(err)
	}
	man := rec.Manifest
	var list []*shares.Share
	defer func() {
		for _, s := range list {
			s.Wipe()
		}
	}()
	seen := map[int]string{}
	for _, in := range inputs {
		sh, err := shares.Parse(in.text.Bytes())
		if err != nil {
			return fail(fmt.Errorf("%s: %v", in.name, err))
		}
		list = append(list, sh)
		if err := man.CheckShare(sh); err != nil {
			return fail(fmt.Errorf("%s: %v", in.name, err))
		}
		if first, dup := seen[sh.Index]; dup {
			return fail(fmt.Errorf("%s: share %d was already given as %s", in.name, sh.Index, first))
		}
		seen[sh.Index] = in.name
	}
	if len(list) < man.Threshold {
		return fail(fmt.Errorf("%d activation share(s) given; %d of the %d shares of split %s are needed", len(list), man.Threshold, man.Count, man.Split))
	}
	sec, err := shares.Combine(list, man)
	if err != nil {
		return fail(err)
	}
	defer sec.Wipe()
	split, err := man.SplitID()
	if err != nil {
		return fail(err)
	}
	so, user, err = activation.PINs(sec, split, rec.Format())
	if err != nil {
		return fail(err)
	}
	return so, user, fmt.Sprintf("split %s, %d of %d needed", man.Split, man.Threshold, man.Count), nil
}

// describeObject prints an object on one line, and a key's attributes on
// a second.
func describeObject(o hsm.Object) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-12s %q", o.Class, o.Label)
	if o.ID != "" {
		fmt.Fprintf(&b, " id %s", o.ID)
	}
	if o.KeyType != "" {
		fmt.Fprintf(&b, " %s", o.KeyType)
	}
	if o.Subject != "" {
		fmt.Fprintf(&b, " subject %q", o.Subject)
	}
	if o.Private {
		b.WriteString(" (private object)")
	}
	if a := o.Attributes; a != nil {
		v := map[string]bool{
			"sensitive": a.Sensitive, "always_sensitive": a.AlwaysSensitive, "extractable": a.Extractable,
			"never_extractable": a.NeverExtractable, "wrap_with_trusted": a.WrapWithTrusted, "modifiable": a.Modifiable,
			"local": a.Local, "token": a.Token, "private": a.Private, "sign": a.Sign, "decrypt": a.Decrypt,
			"unwrap": a.Unwrap, "derive": a.Derive,
		}
		b.WriteString("\n            ")
		for _, k := range keyAttributeOrder {
			fmt.Fprintf(&b, " %s=%t", k, v[k])
		}
	}
	return b.String()
}
