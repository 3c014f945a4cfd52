package opsimport

import (
	"errors"
	"fmt"
	"path/filepath"
	"sort"

	"github.com/devicepki/ceremony/ceremony/durable"
)

// write lays the accepted files out for durable.WriteAll: the transcript's
// files last, so that whoever watches the directory sees a transcript only
// once its artifacts are there.
func (r *Report) write(dir string) ([]Written, error) {
	if dir == "" {
		return nil, errors.New("output directory: no path given")
	}
	items := append([]*Item{}, r.Items...)
	rank := func(k Kind) int {
		switch k {
		case KindSeal, KindRecord:
			return 1
		case KindTranscript:
			return 2
		}
		return 0
	}
	sort.SliceStable(items, func(i, j int) bool { return rank(items[i].Kind) < rank(items[j].Kind) })
	files := make([]durable.NamedFile, 0, len(items))
	kept := items[:0]
	for _, it := range items {
		if it.Kind == 0 || it.data == nil {
			return nil, fmt.Errorf("%s: not checked", it.Input.origin())
		}
		if it.Input.RevocationOnly {
			continue // given to check against, not to import
		}
		kept = append(kept, it)
		files = append(files, durable.NamedFile{Name: it.Input.Name, Data: it.data})
	}
	items = kept
	res, err := durable.WriteAll(dir, files)
	if err != nil {
		return nil, err
	}
	present := map[string]bool{}
	for _, n := range res.Unchanged {
		present[n] = true
	}
	out := make([]Written, len(items))
	for i, it := range items {
		out[i] = Written{Name: it.Input.Name, Path: filepath.Join(dir, filepath.FromSlash(it.Input.Name)), AlreadyPresent: present[it.Input.Name]}
	}
	return out, nil
}
