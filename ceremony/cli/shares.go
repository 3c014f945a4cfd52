package cli

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/devicepki/ceremony/ceremony/durable"
	"github.com/devicepki/ceremony/ceremony/secret"
	"github.com/devicepki/ceremony/ceremony/shares"
	"github.com/devicepki/ceremony/ceremony/transcript"
)

const sharesUsage = `Usage:
  ceremony shares check [--transcript OUT/transcript.jsonl] (SHARE-FILE... | -)

check reads each share (a .share file, or with - the shares typed or
scanned on standard input, each starting with its CS1 group) and prints,
per share, ok or what is wrong and where (group and line). With the
transcript of the ceremony that split the secret, it also checks each
share against the split's manifest, and, given at least the threshold of
shares of one split, that they rebuild the secret the manifest commits
to. It never prints a share or a secret.

Exit status: 0 every share is good (and every reconstruction checked
matches); 1 something is wrong; 2 usage.
`

// maxShareInput bounds what check reads from one file or standard input.
const maxShareInput = 1 << 16

// shareInput is one share as given: where it came from and its text.
type shareInput struct {
	name string
	line int // first line in the source, for standard input
	text *secret.Secret
}

var sharesCmd = &Command{
	Name: "shares", Usage: sharesUsage,
	Commands: []*Command{{
		Name: "check", Usage: sharesUsage,
		Flags: func(fs *flag.FlagSet) Run {
			tpath := fs.String("transcript", "", "`TRANSCRIPT` of the ceremony that split the secret")
			return func(env *Env, pos []string) error {
				return sharesCheck(env, *tpath, pos)
			}
		},
	}},
}

func sharesCheck(env *Env, tpath string, pos []string) (err error) {
	if len(pos) == 0 {
		return usagef("which shares? give share files, or - to read them from standard input")
	}
	manifests := map[string]*shares.Manifest{}
	if tpath != "" {
		if manifests, err = manifestsIn(tpath); err != nil {
			return err
		}
	}
	inputs, err := readAllShares(pos, env.Stdin)
	defer wipeShares(inputs)
	if err != nil {
		return err
	}
	if problems := checkShares(inputs, manifests, tpath != "", env.Stdout); len(problems) > 0 {
		// The report is on standard output; the error line says what
		// failed, as every refusal does.
		first := problems[0]
		if len(problems) > 1 {
			first = fmt.Sprintf("%s (and %d more, listed above)", first, len(problems)-1)
		}
		return &ExitError{Code: ExitFailure, Err: errors.New(first)}
	}
	return nil
}

// checkShares prints a line per share and per split, and returns the
// problems found, each as its line says it.
func checkShares(inputs []shareInput, manifests map[string]*shares.Manifest, haveTranscript bool, stdout io.Writer) []string {
	var problems []string
	bad := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		fmt.Fprintln(stdout, line)
		problems = append(problems, line)
	}
	type group struct {
		man    *shares.Manifest
		shares []*shares.Share
	}
	var (
		groups = map[string]*group{}
		order  []string
		seen   = map[string]string{} // share hash -> first input name
	)
	for _, in := range inputs {
		sh, err := shares.Parse(in.text.Bytes())
		if err != nil {
			var fe *shares.FormatError
			if errors.As(err, &fe) && fe.Line > 0 && in.line > 1 {
				fe.Line += in.line - 1 // a line of standard input
			}
			bad("%s: %v", in.name, err)
			continue
		}
		defer sh.Wipe()
		id := sh.Split.String()
		if first, dup := seen[sh.Hash()]; dup {
			bad("%s: the same share as %s (%s)", in.name, first, sh.Describe())
			continue
		}
		seen[sh.Hash()] = in.name
		man := manifests[id]
		switch {
		case man == nil && haveTranscript:
			bad("%s: %s: the transcript records no split %s (a share of another ceremony?)", in.name, sh.Describe(), id)
			continue
		case man != nil:
			if err := man.CheckShare(sh); err != nil {
				bad("%s: %v", in.name, err)
				continue
			}
			fmt.Fprintf(stdout, "%s: ok: %s, matches the transcript's manifest\n", in.name, sh.Describe())
		default:
			fmt.Fprintf(stdout, "%s: ok: %s (checksums only; give --transcript to check it against the ceremony's record)\n", in.name, sh.Describe())
		}
		g := groups[id]
		if g == nil {
			g = &group{man: man}
			groups[id] = g
			order = append(order, id)
		}
		g.shares = append(g.shares, sh)
	}
	for _, id := range order {
		g := groups[id]
		if g.man == nil {
			continue
		}
		m := g.man
		switch {
		case len(g.shares) < m.Threshold:
			fmt.Fprintf(stdout, "split %s (%s, %d of %d): %d good share(s); %d are needed to check the reconstruction\n",
				id, m.Purpose, m.Threshold, m.Count, len(g.shares), m.Threshold)
		default:
			if err := shares.Check(g.shares, m); err != nil {
				bad("split %s (%s, %d of %d): %v", id, m.Purpose, m.Threshold, m.Count, err)
				continue
			}
			fmt.Fprintf(stdout, "split %s (%s, %d of %d): the %d shares rebuild the secret, and it matches the commitment on record\n",
				id, m.Purpose, m.Threshold, m.Count, len(g.shares))
		}
	}
	return problems
}

// manifestsIn reads the share manifests a transcript records, by split id.
// The hash chain must be intact; the seal is checked by transcript verify.
func manifestsIn(path string) (map[string]*shares.Manifest, error) {
	chain, err := transcript.ReadFile(path)
	if err != nil {
		if !strings.Contains(err.Error(), path) {
			err = fmt.Errorf("transcript %s: %w", path, err)
		}
		return nil, err
	}
	out := map[string]*shares.Manifest{}
	for _, ev := range chain.Events {
		if !ev.Is(transcript.TypeSharesSplit) {
			continue
		}
		d, err := transcript.DataAs[transcript.SharesSplit](ev)
		man := &shares.Manifest{}
		if err != nil || d.Manifest.Decode(man) != nil {
			return nil, fmt.Errorf("%s: event %d: a shares-split event without a manifest", path, ev.Seq)
		}
		if err := man.Check(); err != nil {
			return nil, fmt.Errorf("%s: event %d: %v", path, ev.Seq, err)
		}
		out[man.Split] = man
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s records no split (no shares-split event)", path)
	}
	return out, nil
}

// readShares reads one share from a file, or the shares on standard input
// ("-"), each beginning at a line whose first group starts with CS.
// readAllShares reads the shares in every source in names (see
// readShares). The caller wipes them with wipeShares, also on error.
func readAllShares(names []string, stdin io.Reader) ([]shareInput, error) {
	var inputs []shareInput
	for _, p := range names {
		got, err := readShares(p, stdin)
		if err != nil {
			return inputs, err
		}
		inputs = append(inputs, got...)
	}
	return inputs, nil
}

// wipeShares wipes the text of every share in inputs.
func wipeShares(inputs []shareInput) {
	for _, in := range inputs {
		in.text.Wipe()
	}
}

func readShares(name string, stdin io.Reader) ([]shareInput, error) {
	var (
		data []byte
		err  error
	)
	if name == "-" {
		data, err = io.ReadAll(io.LimitReader(stdin, maxShareInput+1))
		if err == nil && len(data) > maxShareInput {
			err = fmt.Errorf("more than %d bytes", maxShareInput)
		}
	} else {
		data, err = durable.ReadRegularFile(name, maxShareInput)
	}
	defer clear(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, durable.Cause(err))
	}
	if name != "-" {
		return []shareInput{{name: name, line: 1, text: secret.New(data)}}, nil
	}
	var (
		out    []shareInput
		cur    []byte
		start  = 1
		hasTag bool
	)
	flush := func() {
		if hasTag || len(bytes.TrimSpace(cur)) > 0 {
			out = append(out, shareInput{name: fmt.Sprintf("share %d on standard input (line %d)", len(out)+1, start), line: start, text: secret.New(cur)})
		}
		clear(cur)
		cur, hasTag = nil, false
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		if startsShare(line) {
			// A new share begins (comment lines in between stay with
			// the share before; the parser ignores them).
			if hasTag {
				flush()
				start = n
			}
			hasTag = true
		} else if len(bytes.TrimSpace(cur)) == 0 {
			cur, start = cur[:0], n
		}
		cur = append(cur, line...)
		cur = append(cur, '\n')
	}
	flush()
	if len(out) == 0 {
		return nil, errors.New("no share on standard input")
	}
	return out, nil
}

// startsShare reports whether a line of typed or scanned shares begins a
// share: its first group is the four-character tag (CS1A, CS1B, or
// another version's CSnX), where every data group has five characters.
// A data line whose first group happens to begin with CS does not.
func startsShare(line []byte) bool {
	t := strings.ToUpper(strings.TrimSpace(string(line)))
	first, _, _ := strings.Cut(t, " ")
	first, _, _ = strings.Cut(first, "-")
	return len(first) == 4 && strings.HasPrefix(first, "CS")
}
